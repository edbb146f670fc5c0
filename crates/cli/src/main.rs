//! `wix-inbox`: verify a webhook body, call every Inbox operation, get the app instance, find
//! contacts and members, sync a message from another service, run the fake Inbox.
//!
//! Exit codes: 0 done; 1 the thing asked for failed (a body that does not verify, an API
//! error); 2 the invocation is wrong (an unknown flag, a missing argument, a file that cannot
//! be read, a key that is not a key, missing credentials). Errors are one line on stderr.

mod api;
mod args;
mod events;
mod fake;
mod forward;
mod load;
mod redis_target;
mod relay;
mod serving;
mod sync;
mod webhook;

use std::process::ExitCode;

use clap::Parser;
use wix_inbox::webhooks::WebhookVerifier;

/// How a command failed, and so the exit code.
pub enum Failure {
    /// The invocation is wrong: exit 2.
    Usage(String),
    /// The operation asked for failed (a body that does not verify, an API error, a fake that
    /// cannot start): exit 1.
    Operation(String),
}

/// The result of a command.
pub type Outcome = Result<(), Failure>;

fn main() -> ExitCode {
    // A bug must still end in one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
            .unwrap_or("unknown");
        eprintln!("error: internal error in wix-inbox ({what}); please report it");
    }));
    let cli = args::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Operation(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: args::Cli) -> Outcome {
    use args::{App, Command, Contacts, Conversations, Fake, Members, Messages, Webhook};
    match cli.command {
        Command::Webhook(Webhook::Verify(a)) => webhook::verify(a),
        Command::Webhook(Webhook::Relay(a)) => relay::relay(a).await,
        Command::Conversations(Conversations::Get { id }) => {
            api::get_conversation(&cli.global, id).await
        }
        Command::Conversations(Conversations::GetOrCreate(who)) => {
            api::get_or_create(&cli.global, who).await
        }
        Command::Messages(Messages::List(a)) => api::list_messages(&cli.global, a).await,
        Command::Messages(Messages::Send(a)) => api::send_message(&cli.global, a).await,
        Command::Contacts(Contacts::Find(a)) => sync::find_contacts(&cli.global, a).await,
        Command::Members(Members::Find(a)) => sync::find_members(&cli.global, a).await,
        Command::App(App::Instance) => api::app_instance(&cli.global).await,
        Command::Sync(a) => sync::sync(&cli.global, a).await,
        Command::Fake(Fake::Serve(a)) => fake::serve(a).await,
        Command::Fake(Fake::Sign(a)) => fake::sign(*a),
        Command::Fake(Fake::Load(a)) => load::load(*a).await,
        Command::Events(a) => events::events(a).await,
    }
}

/// Prints `value` as pretty JSON on stdout, [escaped](escape_hidden).
fn print_json(value: &impl serde::Serialize) -> Outcome {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::Operation(format!("cannot print the result as JSON: {e}")))?;
    println!("{}", escape_hidden(&text));
    Ok(())
}

/// `json` with every control, format and separator character that serde_json leaves as it is
/// (DEL, C1 controls, U+202E and the other bidi controls, U+2028, U+2029, zero-width
/// characters: Unicode Cc, Cf, Zl, Zp beyond C0) written as `\uXXXX` escapes: still the same
/// JSON, but what Wix or a participant wrote cannot reorder or split what a terminal or a log
/// shows. Outside strings JSON is ASCII, so only strings can hold them.
fn escape_hidden(json: &str) -> std::borrow::Cow<'_, str> {
    use std::fmt::Write as _;
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};
    let hidden = |c: char| {
        (c == '\u{7f}' || !c.is_ascii())
            && (c.is_control()
                || matches!(
                    c.general_category(),
                    GeneralCategory::Format
                        | GeneralCategory::LineSeparator
                        | GeneralCategory::ParagraphSeparator
                ))
    };
    if !json.chars().any(hidden) {
        return json.into();
    }
    let mut escaped = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if hidden(c) {
            for unit in c.encode_utf16(&mut [0; 2]) {
                let _ = write!(escaped, "\\u{unit:04x}");
            }
        } else {
            escaped.push(c);
        }
    }
    escaped.into()
}

/// The most a key file (`--public-key`, `--private-key`) may hold: 16 KiB. A PEM key of
/// 8192 bits is under 7 KiB.
const MAX_KEY_SIZE: usize = 16 * 1024;

/// The verifier of the app's public key in `path` (`--public-key`: a PEM file, or a file
/// holding base64 of the PEM). A file that cannot be read, is too large or holds no key is a
/// usage error.
fn read_verifier(path: &std::path::Path) -> Result<WebhookVerifier, Failure> {
    let key = read_input(Some(path), "public key", MAX_KEY_SIZE, Failure::Usage)?;
    let key = String::from_utf8(key).map_err(|_| {
        Failure::Usage(format!(
            "the public key {} is not text (PEM or base64 of PEM)",
            path.display()
        ))
    })?;
    WebhookVerifier::from_public_key(&key)
        .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))
}

/// Reads a file named on the command line (`-` is stdin), at most `limit` bytes: one byte
/// more and it stops reading and fails with `too_large` (so `/dev/zero` or an endless pipe
/// cannot fill the memory). A file that cannot be read is a usage error, as with grep.
fn read_input(
    path: Option<&std::path::Path>,
    what: &str,
    limit: usize,
    too_large: fn(String) -> Failure,
) -> Result<Vec<u8>, Failure> {
    use std::io::Read;
    let (source, reader): (String, Box<dyn Read>) = match path {
        Some(p) if p.as_os_str() != "-" => (
            format!("the {what} {}", p.display()),
            Box::new(std::fs::File::open(p).map_err(|e| {
                Failure::Usage(format!("cannot read the {what} {}: {e}", p.display()))
            })?),
        ),
        _ => (
            format!("the {what} on stdin"),
            Box::new(std::io::stdin().lock()),
        ),
    };
    let mut buf = Vec::new();
    reader
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| Failure::Usage(format!("cannot read {source}: {e}")))?;
    if buf.len() > limit {
        return Err(too_large(format!(
            "{source} is over the limit of {limit} bytes"
        )));
    }
    Ok(buf)
}
