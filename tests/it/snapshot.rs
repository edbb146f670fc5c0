//! The generated code is snapshotted from the very file build.rs wrote, so a spec or generator
//! change shows up as a reviewable diff (`cargo insta review`) and an unreviewed one fails.

#[test]
fn generated_code() {
    let code = include_str!(concat!(env!("OUT_DIR"), "/codegen.rs"));
    insta::assert_snapshot!("codegen", code);
}
