//! Generates the Wix Inbox client from `openapi/inbox-v2.yaml` (ARCHITECTURE.md, "The
//! generator"). The spec is the only place a wire type is defined. This script:
//! 1. reads and checks the spec ([`spec`]): a broken spec stops the build with one line naming
//!    the file and the fault;
//! 2. configures progenitor ([`settings`]): builder interface, the crate's transport as the
//!    client's inner value, open enums and wire codecs as replacements and conversions, and a
//!    pre hook that drops the undocumented `api-version` header;
//! 3. runs progenitor, then the few rewrites no setting can do ([`passes`]), and writes
//!    `$OUT_DIR/codegen.rs`, with the operations table the hand-written layer reads, and
//!    `$OUT_DIR/enums.rs`, the open enums, which it includes in its `types` module;
//! 4. writes `$OUT_DIR/events.rs`, the webhook events of `x-wix-event` ([`events`]), which
//!    `src/webhooks/event.rs` includes.

#[path = "build/events.rs"]
mod events;
#[path = "build/passes.rs"]
mod passes;
#[path = "build/settings.rs"]
mod settings;
#[path = "build/spec.rs"]
mod spec;

use std::{env, fs, path::PathBuf, process::exit};

const SPEC: &str = "openapi/inbox-v2.yaml";

fn main() {
    println!("cargo:rerun-if-changed={SPEC}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build");
    if let Err(message) = generate() {
        // One readable line for a person, no backtrace.
        eprintln!("error: {SPEC}: {message}");
        exit(1);
    }
}

fn generate() -> Result<(), String> {
    let spec = spec::read(SPEC)?;
    let operations = spec::operations(&spec)?;
    let (settings, enums) = settings::settings(&spec)?;

    // progenitor and typify panic on some malformed input; turn a panic into the one-line error.
    std::panic::set_hook(Box::new(|_| {}));
    let generated =
        std::panic::catch_unwind(|| progenitor::Generator::new(&settings).generate_tokens(&spec));
    let _ = std::panic::take_hook();
    let tokens = match generated {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(panic) => Err(panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown cause".into())),
    }
    .map_err(|why| format!("progenitor cannot generate a client from it: {why}"))?;

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
    write("events.rs", events::events(&spec)?)
}
