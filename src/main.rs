fn main() {
    std::process::exit(pitr_console::cli::main());
}
