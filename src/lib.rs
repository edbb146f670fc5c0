//! placeholder
fn _x() {}
