//! The generated code is snapshotted from the very files build.rs wrote, so a spec or generator
//! change shows up as a reviewable diff (`cargo insta review`) and an unreviewed one fails.
//! (That no request carries progenitor's `api-version` header is tested on the wire, in
//! `client_auth`.)

#[test]
fn generated_code() {
    let code = include_str!(concat!(env!("OUT_DIR"), "/codegen.rs"));
    insta::assert_snapshot!("codegen", code);
}

#[test]
fn generated_events() {
    let code = include_str!(concat!(env!("OUT_DIR"), "/events.rs"));
    insta::assert_snapshot!("events", code);
}

#[test]
fn generated_open_enums() {
    let code = include_str!(concat!(env!("OUT_DIR"), "/enums.rs"));
    insta::assert_snapshot!("enums", code);
}

/// Every type the generated code makes public says what it is: the spec's types from their
/// descriptions, their builders and the operations' request builders from build.rs.
#[test]
fn every_generated_type_is_documented() {
    let code = include_str!(concat!(env!("OUT_DIR"), "/codegen.rs"));
    let lines: Vec<&str> = code.lines().map(str::trim).collect();
    let mut types = 0;
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = ["pub struct ", "pub enum "]
            .iter()
            .find_map(|kind| line.strip_prefix(kind))
        else {
            continue;
        };
        types += 1;
        // Back over the item's attributes to its docs, not past the end of the item before.
        let documented = lines[..i]
            .iter()
            .rev()
            .take_while(|l| !l.ends_with('}') && !l.ends_with(';') && !l.ends_with('{'))
            .any(|l| l.starts_with("///") || l.ends_with("*/"));
        assert!(documented, "`{name}` has no docs");
    }
    assert!(types > 80, "only {types} types found");
}
