//! The example configuration must stay valid: it is the key reference operators copy from.

#[test]
fn the_example_file_parses() {
    let text = include_str!("../../../../pitr-console.toml.example");
    let c = super::load::parse(std::path::Path::new("pitr-console.toml.example"), text).unwrap();
    assert_eq!(c.servers.len(), 1);
    assert_eq!(c.repositories.len(), 1);
    assert_eq!(c.apps.len(), 1);
    assert_eq!(c.checks.len(), 1);
}
