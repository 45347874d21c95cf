//! The integration tests of marketplace-common, in one binary: `--test api`.

mod mongo_wire_compat;
