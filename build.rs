//! Generates the Wix Inbox client from `openapi/inbox-v2.yaml`: reads and checks the spec
//! ([`spec`]) without its validation-only rules ([`strip`]), configures progenitor
//! ([`settings`]), runs it and the rewrites no setting can do ([`passes`]), and writes
//! `$OUT_DIR/codegen.rs` (with the `OPERATIONS` table), `enums.rs`, `events.rs` ([`events`])
//! and `schemas.rs` (the object schemas, for the tests), and `spec.json` (the whole spec, rules
//! and all, as JSON: `wix_inbox::SPEC_JSON` with the `test-util` feature, which the fake reads).
//! ARCHITECTURE.md, "The generator", says what each holds and why.

#[path = "build/events.rs"]
mod events;
#[path = "build/passes.rs"]
mod passes;
#[path = "build/settings.rs"]
mod settings;
#[path = "build/spec.rs"]
mod spec;
#[path = "build/strip.rs"]
mod strip;

use std::{env, fs, panic, path::PathBuf};

const SPEC: &str = "openapi/inbox-v2.yaml";

fn main() {
    println!("cargo:rerun-if-changed={SPEC}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build");
    generate().unwrap_or_else(|message| fail(&message));
}

/// One readable line for a person, no backtrace.
fn fail(message: &str) -> ! {
    eprintln!("error: {SPEC}: {message}");
    std::process::exit(1)
}

fn generate() -> Result<(), String> {
    let spec = spec::read(SPEC)?;
    let operations = spec::operations(&spec)?;
    let (settings, enums) = settings::settings(&spec)?;

    // progenitor and typify panic on some malformed input; the panic becomes the one-line error.
    let cannot = "progenitor cannot generate a client from it";
    panic::set_hook(Box::new(move |panic| {
        let why = panic.payload().downcast_ref::<String>().map(String::as_str);
        let why = why.or(panic.payload().downcast_ref::<&str>().copied());
        fail(&format!("{cannot}: {}", why.unwrap_or("a panic")))
    }));
    let tokens = progenitor::Generator::new(&settings).generate_tokens(&spec);
    let tokens = tokens.map_err(|e| format!("{cannot}: {e}"))?;
    drop(panic::take_hook());

    let mut file: syn::File = syn::parse2(tokens)
        .map_err(|e| format!("progenitor produced code that does not parse: {e}"))?;
    passes::run(&mut file, &operations)?;
    file.items.push(spec::operations_table(&operations));

    let out = PathBuf::from(env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let write = |name: &str, code: String| {
        let path = out.join(name);
        fs::write(&path, code).map_err(|e| format!("cannot write {path:?}: {e}"))
    };
    write("codegen.rs", prettyplease::unparse(&file))?;
    write("enums.rs", enums)?;
    write("schemas.rs", spec::object_schemas(&spec))?;
    write("spec.json", spec::as_json(SPEC)?)?;
    write("events.rs", events::events(&spec)?)
}
