//! The console's model (The Elm Architecture): `App` state, `Msg`s in, `Cmd`s out, through
//! `update`. Pure: no terminal, no IO, no clock; unit-tested without a terminal.

pub mod buckets;
pub mod drill;
pub mod drill_jobs;
pub mod geometry;
pub mod help;
pub mod keymap;
pub mod live_tail;
pub mod msg;
pub mod plan_ready;
pub mod repo;
pub mod screen;
pub mod state;
pub mod transactions;
pub mod unfinished;
pub mod unfinished_box;
pub mod update;
pub mod view;
pub mod wizard;

pub use keymap::{Action, Keymap};
pub use msg::{Cmd, Msg};
pub use state::{App, Focus, Mode};
pub use update::update;
