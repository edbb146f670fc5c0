//! The build script itself, run on broken specs: the build must fail with one readable line that
//! names the file and the fault, never a panic backtrace.
//!
//! The test runs the very `build-script-build` binary cargo compiled for this crate, in a
//! scratch directory of its own (a fresh temporary directory per test, so tests running in
//! parallel never share one) holding a broken `openapi/inbox-v2.yaml`.

use std::{path::PathBuf, process::Command};

fn build_script() -> PathBuf {
    // OUT_DIR is target/<profile>/build/wix-inbox-<hash>/out; the script binary lives in a
    // sibling wix-inbox-<hash> directory. Take the newest.
    let build_dir = PathBuf::from(env!("OUT_DIR")).join("../..");
    std::fs::read_dir(&build_dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path().join("build-script-build");
            let name = path.parent()?.file_name()?.to_str()?.to_owned();
            (name.starts_with("wix-inbox-") && path.exists()).then_some(path)
        })
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .expect("the compiled build script")
}

fn run_on(spec: &str) -> (bool, String) {
    // Each run has its own directory, removed when `dir` is dropped: tests run in parallel.
    let scratch = tempfile::Builder::new()
        .prefix("wix-inbox-build-test-")
        .tempdir()
        .unwrap();
    let dir = scratch.path();
    std::fs::create_dir_all(dir.join("openapi")).unwrap();
    std::fs::create_dir_all(dir.join("out")).unwrap();
    std::fs::write(dir.join("openapi/inbox-v2.yaml"), spec).unwrap();
    let output = Command::new(build_script())
        .current_dir(dir)
        .env("OUT_DIR", dir.join("out"))
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

const SPEC: &str = include_str!("../../openapi/inbox-v2.yaml");

#[test]
fn the_real_spec_builds() {
    let (ok, stderr) = run_on(SPEC);
    assert!(ok, "{stderr}");
}

fn assert_one_line_error(stderr: &str, needle: &str) {
    let lines: Vec<_> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got:\n{stderr}");
    assert!(
        lines[0].starts_with("error: openapi/inbox-v2.yaml: "),
        "{stderr}"
    );
    assert!(lines[0].contains(needle), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"));
}

#[test]
fn invalid_yaml_fails_with_one_line() {
    let (ok, stderr) = run_on("openapi: 3.0.3\ninfo: [unclosed\n");
    assert!(!ok);
    assert_one_line_error(&stderr, "not valid YAML");
}

#[test]
fn a_document_that_is_not_openapi_fails_with_one_line() {
    let (ok, stderr) = run_on("openapi: 3.0.3\npaths: 7\n");
    assert!(!ok);
    assert_one_line_error(&stderr, "not a valid OpenAPI 3.0 document");
}

#[test]
fn an_inline_enum_is_refused_with_its_location() {
    let spec = SPEC.replace(
        "          schema:\n            type: string\n            allOf:\n            - enum: [sequence, createdDate]\n",
        "          schema:\n            type: string\n            enum: [sequence, createdDate]\n",
    );
    assert_ne!(spec, SPEC, "the test spec was not changed");
    let (ok, stderr) = run_on(&spec);
    assert!(!ok);
    assert_one_line_error(
        &stderr,
        "inline `enum` at paths//inbox/v2/messages/get/parameters/4",
    );
}

#[test]
fn a_description_of_a_value_the_enum_lacks_is_refused() {
    let spec = SPEC.replace(
        "        INVALID_MEDIA_URL: Wix cannot use",
        "        INVALID_MEDIA_URI: Wix cannot use",
    );
    assert_ne!(spec, SPEC, "the test spec was not changed");
    let (ok, stderr) = run_on(&spec);
    assert!(!ok);
    assert_one_line_error(
        &stderr,
        "schema ApplicationErrorCode: x-enum-descriptions describes `INVALID_MEDIA_URI`",
    );
}

#[test]
fn a_webhook_event_without_its_slug_is_refused() {
    let spec = SPEC.replace("        slug: button_interacted\n", "");
    assert_ne!(spec, SPEC, "the test spec was not changed");
    let (ok, stderr) = run_on(&spec);
    assert!(!ok);
    assert_one_line_error(
        &stderr,
        "schema ButtonInteracted: x-wix-event needs a text `slug`",
    );
}

#[test]
fn a_dangling_ref_fails_with_one_line() {
    let spec = SPEC.replacen(
        "$ref: '#/components/schemas/GetConversationResponse'",
        "$ref: '#/components/schemas/NoSuchSchema'",
        1,
    );
    let (ok, stderr) = run_on(&spec);
    assert!(!ok);
    assert_one_line_error(
        &stderr,
        "`$ref: #/components/schemas/NoSuchSchema` does not resolve",
    );
}

#[test]
fn a_panic_inside_the_generator_becomes_one_line() {
    // A `$ref` to something that is not a schema passes the resolution check but trips typify.
    let spec = SPEC.replacen(
        "$ref: '#/components/schemas/GetConversationResponse'",
        "$ref: '#/components/responses/Error'",
        1,
    );
    let (ok, stderr) = run_on(&spec);
    assert!(!ok);
    assert_one_line_error(&stderr, "progenitor cannot generate");
}

#[test]
fn an_operation_without_an_operation_id_is_refused() {
    // Operation names (methods, builders, the OPERATIONS table) come from operationIds.
    let spec = SPEC.replacen("      operationId: getConversation\n", "", 1);
    assert_ne!(spec, SPEC, "the test spec was not changed");
    let (ok, stderr) = run_on(&spec);
    assert!(!ok);
    assert_one_line_error(
        &stderr,
        "the operation get /inbox/v2/conversations/{conversationId} has no operationId",
    );
}

#[test]
fn additional_properties_true_beside_properties_is_refused() {
    // typify reads `true` as "drop them": the spec would seem to keep unknown fields and not.
    let spec = SPEC.replacen(
        "    Conversation:\n      type: object\n      additionalProperties: {}\n",
        "    Conversation:\n      type: object\n      additionalProperties: true\n",
        1,
    );
    assert_ne!(spec, SPEC, "the test spec was not changed");
    let (ok, stderr) = run_on(&spec);
    assert!(!ok);
    assert_one_line_error(
        &stderr,
        "schema Conversation: `additionalProperties` beside properties must be `{}`",
    );
}
