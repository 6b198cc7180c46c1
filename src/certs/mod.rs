//! Generation of FISCO-style certificates (CA, agency, node).
// TODO(identity branch): generation lands in the next commit.
