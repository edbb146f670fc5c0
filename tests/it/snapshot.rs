//! The generated code is snapshotted from the very file build.rs wrote, so a spec or generator
//! change shows up as a reviewable diff (`cargo insta review`) and an unreviewed one fails.

#[test]
fn generated_code() {
    let code = include_str!(concat!(env!("OUT_DIR"), "/codegen.rs"));
    insta::assert_snapshot!("codegen", code);
}

#[test]
fn the_generated_code_sends_no_api_version_header() {
    // progenitor adds an `api-version` header Wix does not document; build.rs leaves it out.
    let code = include_str!(concat!(env!("OUT_DIR"), "/codegen.rs"));
    assert!(!code.contains("api-version"));
    assert!(code.contains("pub async fn send("));
}
