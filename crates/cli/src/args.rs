//! The command line, as clap reads it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use wix_inbox::webhooks::{KnownEvent, PlainEvent, EVENTS, PLAIN_EVENTS};

/// Verify Wix webhook bodies, call the Wix Inbox API, find contacts and members, sync a message
/// from another service, and run a fake Inbox.
///
/// Auth comes from WIX_API_KEY + WIX_SITE_ID, or WIX_APP_ID + WIX_APP_SECRET + WIX_INSTANCE_ID.
/// Exit codes: 0 done, 1 failed (verification, API error, no contact or several for sync), 2
/// wrong invocation.
#[derive(Parser, Debug)]
#[command(name = "wix-inbox", version)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every API command takes.
#[derive(Args, Debug)]
pub struct Global {
    /// Base URL of the API (a fake, a proxy); https://www.wixapis.com by default.
    #[arg(long, env = "WIX_BASE_URL", global = true)]
    pub base_url: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Webhook bodies.
    #[command(subcommand)]
    Webhook(Webhook),
    /// Get Conversation and Get Or Create Conversation.
    #[command(subcommand)]
    Conversations(Conversations),
    /// List Messages and Send Message.
    #[command(subcommand)]
    Messages(Messages),
    /// Find contacts (Query Contacts).
    #[command(subcommand)]
    Contacts(Contacts),
    /// Find members (Query Members).
    #[command(subcommand)]
    Members(Members),
    /// The app instance of the credentials (needs WIX_APP_ID, WIX_APP_SECRET and
    /// WIX_INSTANCE_ID: an API key names no instance).
    #[command(subcommand)]
    App(App),
    /// Record a message a contact wrote elsewhere in their conversation, for the business
    /// only, with a badge: Wix's "Sync messages from an external service".
    Sync(Sync),
    /// The fake Inbox.
    #[command(subcommand)]
    Fake(Fake),
    /// The event queue in Redis (what a receiver in queue mode stores): stats, dead letters,
    /// redrive, replay, as JSON Lines; and work, a worker process forwarding it to the app.
    #[command(subcommand)]
    Events(crate::events::Events),
}

#[derive(Subcommand, Debug)]
pub enum App {
    /// Get App Instance: the app's name and version, `isFree`, billing, `copiedFromTemplate`,
    /// `originInstanceId` and the site's name, locale and URL, as JSON.
    Instance,
}

#[derive(Subcommand, Debug)]
pub enum Webhook {
    /// Verify a webhook body (a JWT) and print the event as JSON.
    Verify(Verify),
    /// Verify, de-duplicate and forward webhooks to an app as JSON, answering Wix 200 only
    /// once the app answered 2xx; with --queue, once the event is stored in Redis (forwarded
    /// by a worker in the relay, or with --no-worker by `events work` processes).
    Relay(crate::relay::Relay),
}

#[derive(Args, Debug)]
pub struct Verify {
    /// The app's public key: a PEM file, or a file holding base64 of the PEM.
    #[arg(long, value_name = "FILE")]
    pub public_key: PathBuf,
    /// The request body; stdin when left out or `-`.
    #[arg(long, value_name = "FILE")]
    pub body: Option<PathBuf>,
    /// Clock skew allowed for `exp` and `nbf`, in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub leeway: Option<u64>,
    /// Accept a token without `exp`.
    #[arg(long)]
    pub allow_missing_exp: bool,
}

#[derive(Subcommand, Debug)]
pub enum Conversations {
    /// Get a conversation by ID.
    Get {
        /// The conversation ID.
        id: String,
    },
    /// Get or create the conversation with a visitor, contact or member.
    GetOrCreate(Participant),
}

/// Exactly one participant ID.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct Participant {
    /// An anonymous visitor ID.
    #[arg(long, value_name = "ID")]
    pub visitor: Option<String>,
    /// A contact ID.
    #[arg(long, value_name = "ID")]
    pub contact: Option<String>,
    /// A member ID.
    #[arg(long, value_name = "ID")]
    pub member: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Messages {
    /// List the messages of a conversation (one page, or every page with --all).
    List(List),
    /// Send a text message to the participant.
    Send(Send),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Visibility {
    /// Messages for the business only.
    Business,
    /// Messages the participant sees as well.
    BusinessAndParticipant,
}

#[derive(Args, Debug)]
pub struct List {
    /// The conversation ID.
    pub conversation_id: String,
    /// Which messages: `business` lists all of them.
    #[arg(long, value_enum, default_value = "business-and-participant")]
    pub visibility: Visibility,
    /// Follow every page and print each message as one line of JSON (JSON Lines), as its
    /// page arrives.
    #[arg(long)]
    pub all: bool,
}

#[derive(Args, Debug)]
pub struct Send {
    /// The conversation ID.
    pub conversation_id: String,
    /// The text to send.
    #[arg(long)]
    pub text: String,
    /// Who sees the message.
    #[arg(long, value_enum, default_value = "business-and-participant")]
    pub visibility: Visibility,
}

#[derive(Subcommand, Debug)]
pub enum Contacts {
    /// Every contact with this email address (any of their emails), one JSON line each, oldest
    /// first: ID, name, emails and phones (fieldset COMMUNICATION_DETAILS). No match: no line.
    Find(ByEmail),
}

#[derive(Subcommand, Debug)]
pub enum Members {
    /// Every member whose login email is this one, one JSON line each, oldest first, with
    /// every field (fieldset FULL: login email, contact ID, statuses). No match: no line.
    Find(ByEmail),
}

#[derive(Args, Debug)]
pub struct ByEmail {
    /// The email address, as Wix compares it.
    #[arg(long, value_parser = not_blank)]
    pub email: String,
}

/// `sync`: find the contact by email, then send to their current conversation.
#[derive(Args, Debug)]
pub struct Sync {
    /// The contact's email address (any of their emails).
    #[arg(long, value_parser = not_blank)]
    pub email: String,
    /// What the contact wrote elsewhere.
    #[arg(long, value_parser = not_blank)]
    pub text: String,
    /// The badge's text, naming where the message comes from (with --badge-icon).
    #[arg(long, value_name = "TEXT", requires = "badge_icon", value_parser = not_blank)]
    pub badge_text: Option<String>,
    /// The badge's icon: an https:// URL (the Inbox is an https page; an http:// icon would be
    /// blocked as mixed content). With --badge-text.
    #[arg(long, value_name = "URL", requires = "badge_text", value_parser = https_url)]
    pub badge_icon: Option<String>,
    /// When no contact has the email, create one with it (Create Contact) instead of failing.
    #[arg(long, conflicts_with = "contact")]
    pub create_contact: bool,
    /// Which of several contacts with the email to send to (one of their IDs).
    #[arg(long, value_name = "ID", value_parser = not_blank)]
    pub contact: Option<String>,
}

/// A value that is more than white space.
fn not_blank(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(value.to_owned())
    }
}

/// An absolute `https://` URL with a host.
fn https_url(value: &str) -> Result<String, String> {
    match reqwest::Url::parse(value) {
        Ok(url) if url.scheme() == "https" && url.has_host() => Ok(value.to_owned()),
        Ok(_) => Err("must be an https:// URL".into()),
        Err(e) => Err(format!("not a URL ({e})")),
    }
}

#[derive(Subcommand, Debug)]
pub enum Fake {
    /// Run the fake Inbox until interrupted.
    Serve(Serve),
    /// Print a webhook body signed as Wix does, to test a receiver with curl.
    Sign(Box<Sign>),
    /// Load-test an app: run its command with the fake's WIX_* variables, play many sites'
    /// visitors against it with Wix's delivery rules, report; exit 1 if it lost, duplicated
    /// or misdirected anything.
    Load(Box<crate::load::Load>),
}

#[derive(Args, Debug)]
pub struct Serve {
    /// The port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Where to write the webhook key pair (public.pem, private.pem); a new temporary
    /// directory when left out. An existing directory must be yours and writable by you only;
    /// a new one is created for you only. Files already there (links too) are replaced, never
    /// written through.
    #[arg(long, value_name = "DIR")]
    pub key_dir: Option<PathBuf>,
    /// Which credentials to print as `export` lines (the other way is shown as comments):
    /// exporting both would make every command refuse to choose.
    #[arg(long, value_enum, default_value = "api-key")]
    pub auth: Auth,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Auth {
    /// WIX_API_KEY and WIX_SITE_ID.
    ApiKey,
    /// WIX_APP_ID and WIX_APP_SECRET (with WIX_INSTANCE_ID, printed either way).
    App,
}

/// An event `fake sign --event` makes: one of the spec's webhook events.
#[derive(Clone, Copy, Debug)]
pub enum SpecEvent {
    /// A domain event (`webhooks::EVENTS`).
    Domain(&'static KnownEvent),
    /// A plain, older-style event (`webhooks::PLAIN_EVENTS`: App Instance Installed, Removed).
    Plain(&'static PlainEvent),
}

/// An event of the spec (`webhooks::EVENTS`, `webhooks::PLAIN_EVENTS`), named in kebab case
/// after its body schema: `message-sent-to-business`, `app-instance-installed`.
fn spec_event(name: &str) -> Result<SpecEvent, String> {
    // The schema's name, `MessageSentToBusiness`, a word at each capital.
    let kebab = |name: &str| {
        let words = name.char_indices().map(|(i, c)| match c {
            c if c.is_ascii_uppercase() && i > 0 => format!("-{}", c.to_ascii_lowercase()),
            c => c.to_ascii_lowercase().to_string(),
        });
        words.collect::<String>()
    };
    let domain = EVENTS.iter().map(|e| (e.name, SpecEvent::Domain(e)));
    let plain = PLAIN_EVENTS.iter().map(|e| (e.name, SpecEvent::Plain(e)));
    let all: Vec<(&str, SpecEvent)> = domain.chain(plain).collect();
    let found = all.iter().find(|(event, _)| kebab(event) == name);
    found.map(|&(_, event)| event).ok_or_else(|| {
        let names: Vec<_> = all.iter().map(|(event, _)| kebab(event)).collect();
        format!("the events are {}", names.join(", "))
    })
}

#[derive(Args, Debug)]
#[group(skip)]
pub struct Sign {
    /// The private key (PKCS#8 PEM), e.g. the one `fake serve` wrote.
    #[arg(long, value_name = "FILE")]
    pub private_key: PathBuf,
    /// The event to make: an event of the spec in kebab case (conversations-merged,
    /// message-sent-to-business, message-sent-to-participant, button-interacted,
    /// contact-created, contact-updated, contact-deleted, app-instance-installed,
    /// app-instance-removed, …).
    #[arg(long, value_name = "EVENT", value_parser = spec_event, group = "what")]
    pub event: Option<SpecEvent>,
    /// A domain event as JSON (the shape of Wix's webhook examples) to sign as it is.
    #[arg(long, value_name = "FILE", group = "what")]
    pub event_file: Option<PathBuf>,
    /// The conversation (message and button events; the target of a merge).
    #[arg(long, value_name = "ID")]
    pub conversation_id: Option<String>,
    /// A conversation merged into --conversation-id (repeatable).
    #[arg(long, value_name = "ID")]
    pub old_conversation_id: Vec<String>,
    /// The text of a message event.
    #[arg(long, default_value = "Hello from wix-inbox")]
    pub text: String,
    /// The envelope's `instanceId`: the app instance, as `fake serve` prints it (default: a
    /// fixed test instance).
    #[arg(long, value_name = "ID", env = "WIX_INSTANCE_ID")]
    pub instance_id: Option<String>,
    /// The participant (the sender of Message Sent To Business, who pressed the button, who
    /// became a contact or member), and the envelope's `identity`: an anonymous visitor ID.
    #[arg(long, value_name = "ID", conflicts_with_all = ["contact", "member"])]
    pub visitor: Option<String>,
    /// The participant: a contact ID (`identity` UNKNOWN, as a contact has no field there).
    #[arg(long, value_name = "ID", conflicts_with = "member")]
    pub contact: Option<String>,
    /// The participant: a member ID.
    #[arg(long, value_name = "ID")]
    pub member: Option<String>,
    /// The `appId` of App Instance Installed and Removed (the fake's, as `fake serve --auth app`
    /// prints it).
    #[arg(long, value_name = "ID", env = "WIX_APP_ID")]
    pub app_id: Option<String>,
    /// App Instance Installed of a site duplicated from the site of this instance
    /// (`originInstanceId`).
    #[arg(long, value_name = "ID")]
    pub origin_instance_id: Option<String>,
    /// The interaction of a Button Interacted event.
    #[arg(long, value_name = "ID", default_value = "interaction-1")]
    pub interaction_id: String,
    /// Seconds until the token expires (negative: already expired).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 300,
        allow_hyphen_values = true
    )]
    pub expires_in: i64,
}
