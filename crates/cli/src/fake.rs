//! `fake serve` and `fake sign`.

use std::path::{Path, PathBuf};

use serde_json::Value;
use wix_inbox::types::{
    ActionEvent, AppInstanceInstalled, AppInstanceRemoved, ButtonInteracted, ConversationsMerged,
    DomainEvent, IdentificationData, IdentityType, Message, MessageContent, MessageDirection,
    MessageSentToBusiness, MessageSentToParticipant, MessageVisibility, WebhookIdentity,
};
use wix_inbox::webhooks::test_signer::{TestEvent, TestSigner};
use wix_inbox::webhooks::{EventKind, KnownEvent, PlainEvent, DEFAULT_MAX_BODY_SIZE};
use wix_inbox::wire::RawJson;
use wix_inbox_fake::FakeInbox;

use crate::args::{Auth, Serve, Sign, SpecEvent};
use crate::{read_input, Failure, Outcome, MAX_KEY_SIZE};

/// Runs the fake with a fresh key pair written to files, prints how to reach it, and waits for
/// Ctrl-C.
pub async fn serve(args: Serve) -> Outcome {
    let dir = match args.key_dir {
        Some(dir) => key_dir(dir)?,
        None => new_private_dir()?,
    };
    let private_pem = TestSigner::generate_private_key_pem();
    let signer = TestSigner::from_private_key_pem(&private_pem)
        .map_err(|e| Failure::Operation(e.to_string()))?;
    let public_pem = signer.public_key_pem().to_owned();
    let public_path = dir.path.join("public.pem");
    let private_path = dir.path.join("private.pem");
    dir.write("public.pem", &public_pem, false)?;
    dir.write("private.pem", &private_pem, true)?;

    let fake = FakeInbox::builder()
        .port(args.port)
        .signer(signer)
        .start()
        .await
        .map_err(|e| Failure::Operation(format!("cannot start the fake Inbox: {e}")))?;
    print!(
        "{}",
        shell_exports(&fake, args.auth, &public_path, &private_path)
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| Failure::Operation(format!("cannot wait for Ctrl-C: {e}")))?;
    fake.shutdown().await;
    Ok(())
}

/// What `fake serve` prints: shell lines to paste, `export` for the chosen way to authenticate
/// (both exported would make every command refuse) and for the public key's contents (PEM, as
/// the examples and `App::builder().public_key` take it), the other way and the key paths as
/// comments.
fn shell_exports(fake: &FakeInbox, auth: Auth, public: &Path, private: &Path) -> String {
    let line = |name: &str, value: &str| format!("export {name}={}\n", shell_word(value));
    let api_key = line("WIX_API_KEY", fake.api_key()) + &line("WIX_SITE_ID", fake.site_id());
    let app = line("WIX_APP_ID", fake.app_id()) + &line("WIX_APP_SECRET", fake.app_secret());
    let commented = |lines: &str| {
        lines
            .lines()
            .map(|l| format!("# {l}\n"))
            .collect::<String>()
    };
    let (chosen, other, other_flag) = match auth {
        Auth::ApiKey => (api_key, app, "--auth app"),
        Auth::App => (app, api_key, "--auth api-key"),
    };
    format!(
        "# fake Wix Inbox listening; stop it with Ctrl-C\n\
         # simulator: {}/ (open it in a browser)\n{}{chosen}{}\
         # or authenticate the other way ({other_flag}) instead:\n{}\
         export WIX_WEBHOOK_PUBLIC_KEY=\"$(cat {})\"\n\
         # public key: {}\n# private key: {}\n",
        fake.base_url(),
        line("WIX_BASE_URL", fake.base_url()),
        line("WIX_INSTANCE_ID", fake.instance_id()),
        commented(&other),
        shell_word(&public.display().to_string()),
        public.display(),
        private.display(),
    )
}

/// `value` as one shell word: as it is when it holds only safe characters, else single-quoted.
fn shell_word(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-.,:/@%+=".contains(c);
    if !value.is_empty() && value.chars().all(safe) {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// A new directory in the temporary directory, with an unguessable name and (on Unix) open to
/// this user only: the private key it will hold can forge webhooks for this fake's receivers.
fn new_private_dir() -> Result<KeyDir, Failure> {
    let dir = std::env::temp_dir().join(format!("wix-inbox-fake-{}", uuid::Uuid::new_v4()));
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    // `create`, not `create_all`: a directory that is already there is refused.
    builder
        .create(&dir)
        .map_err(|e| Failure::Operation(format!("cannot create {}: {e}", dir.display())))?;
    KeyDir::open(dir)
}

/// The directory given with `--key-dir`, created (for this user only) when it does not exist.
///
/// An existing directory must be this user's and writable by nobody else: the private key it
/// will hold can forge webhooks, and someone who can write in the directory could have put
/// links or open files there beforehand.
fn key_dir(dir: PathBuf) -> Result<KeyDir, Failure> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(&dir)
        .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", dir.display())))?;
    KeyDir::open(dir)
}

/// The directory the keys are written to, opened once: on Unix its checks and its writes go
/// through one handle (`O_DIRECTORY | O_NOFOLLOW`), so a link swapped in at its path after the
/// check changes nothing; the key files are created relative to the handle.
struct KeyDir {
    path: PathBuf,
    #[cfg(unix)]
    handle: rustix::fd::OwnedFd,
}

impl KeyDir {
    /// Opens `path` (a symbolic link is refused) and checks it: this user's, writable by nobody
    /// else.
    #[cfg(unix)]
    fn open(path: PathBuf) -> Result<KeyDir, Failure> {
        use rustix::fs::{Mode, OFlags};
        let refuse =
            |why: String| Failure::Usage(format!("refusing --key-dir {}: {why}", path.display()));
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let handle = rustix::fs::open(&path, flags, Mode::empty()).map_err(|e| {
            refuse(format!(
                "it cannot be opened as a directory (a symbolic link is refused): {e}"
            ))
        })?;
        let stat = rustix::fs::fstat(&handle).map_err(|e| refuse(e.to_string()))?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if stat.st_uid != me {
            return Err(refuse(format!(
                "it belongs to another user (uid {}); use a directory of your own",
                stat.st_uid
            )));
        }
        if stat.st_mode & 0o022 != 0 {
            return Err(refuse(format!(
                "it is writable by its group or by others (mode {:o}); use a directory only you \
                 can write to (chmod go-w)",
                stat.st_mode & 0o7777
            )));
        }
        Ok(KeyDir { path, handle })
    }

    #[cfg(not(unix))]
    fn open(path: PathBuf) -> Result<KeyDir, Failure> {
        if !std::fs::metadata(&path).is_ok_and(|meta| meta.is_dir()) {
            return Err(Failure::Usage(format!(
                "refusing --key-dir {}: it is not a directory",
                path.display()
            )));
        }
        Ok(KeyDir { path })
    }

    /// Writes `text` to `name` in the directory through a new file renamed over it: a link or
    /// a file already at `name` is replaced, never written through. The new file is created
    /// exclusively (and on Unix without following a link), readable by this user only when
    /// `private`.
    fn write(&self, name: &str, text: &str, private: bool) -> Outcome {
        let failed = |e: std::io::Error| {
            Failure::Usage(format!(
                "cannot write {}: {e}",
                self.path.join(name).display()
            ))
        };
        let temp = format!(".{name}.{}.tmp", uuid::Uuid::new_v4());
        let written = self.create(&temp, private).and_then(|mut file| {
            std::io::Write::write_all(&mut file, text.as_bytes())?;
            file.sync_all()
        });
        match written.and_then(|()| self.rename(&temp, name)) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.remove(&temp);
                Err(failed(e))
            }
        }
    }

    #[cfg(unix)]
    fn create(&self, name: &str, private: bool) -> std::io::Result<std::fs::File> {
        use rustix::fs::{Mode, OFlags};
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mode = Mode::from_raw_mode(if private { 0o600 } else { 0o644 });
        Ok(rustix::fs::openat(&self.handle, name, flags, mode)?.into())
    }

    #[cfg(unix)]
    fn rename(&self, from: &str, to: &str) -> std::io::Result<()> {
        Ok(rustix::fs::renameat(&self.handle, from, &self.handle, to)?)
    }

    #[cfg(unix)]
    fn remove(&self, name: &str) {
        let _ = rustix::fs::unlinkat(&self.handle, name, rustix::fs::AtFlags::empty());
    }

    #[cfg(not(unix))]
    fn create(&self, name: &str, _private: bool) -> std::io::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.path.join(name))
    }

    #[cfg(not(unix))]
    fn rename(&self, from: &str, to: &str) -> std::io::Result<()> {
        std::fs::rename(self.path.join(from), self.path.join(to))
    }

    #[cfg(not(unix))]
    fn remove(&self, name: &str) {
        let _ = std::fs::remove_file(self.path.join(name));
    }
}

/// Prints a body signed as Wix signs it.
pub fn sign(args: Sign) -> Outcome {
    let key = read_input(
        Some(&args.private_key),
        "private key",
        MAX_KEY_SIZE,
        Failure::Usage,
    )?;
    let key = String::from_utf8_lossy(&key);
    let signer = TestSigner::from_private_key_pem(&key)
        .map_err(|e| Failure::Usage(format!("{}: {e}", args.private_key.display())))?;
    let (event_type, domain_event, identity) = match (&args.event, &args.event_file) {
        (_, Some(file)) => {
            let (event_type, domain_event) = from_file(file)?;
            (event_type, domain_event, participant_identity(&args))
        }
        (Some(SpecEvent::Domain(event)), None) => domain_event_from_flags(event, &args)?,
        (Some(SpecEvent::Plain(event)), None) => plain_event_from_flags(event, &args)?,
        (None, None) => return Err(Failure::Usage("give --event or --event-file".into())),
    };
    let mut event = TestEvent::new(event_type, domain_event);
    if let Some(instance) = &args.instance_id {
        event.instance_id = instance.clone();
    }
    event.identity = Some(identity);
    let exp = event.iat.checked_add(args.expires_in).ok_or_else(|| {
        Failure::Usage(format!("--expires-in {} is out of range", args.expires_in))
    })?;
    event.exp = Some(exp);
    println!("{}", signer.sign_event(&event));
    Ok(())
}

/// A domain event from a file, its event type from `entityFqdn` and `slug`.
fn from_file(file: &Path) -> Result<(String, Value), Failure> {
    // A signed event over the verifier's limit would be refused by every receiver.
    let text = read_input(
        Some(file),
        "event file",
        DEFAULT_MAX_BODY_SIZE,
        Failure::Usage,
    )?;
    let event: DomainEvent = serde_json::from_slice(&text)
        .map_err(|e| Failure::Usage(format!("{} is not a domain event: {e}", file.display())))?;
    let (Some(fqdn), Some(slug)) = (&event.entity_fqdn, &event.slug) else {
        return Err(Failure::Usage(format!(
            "{}: the domain event needs entityFqdn and slug",
            file.display()
        )));
    };
    let event_type = format!("{fqdn}_{slug}");
    let value = serde_json::from_slice(&text).map_err(|e| Failure::Usage(e.to_string()))?;
    Ok((event_type, value))
}

/// Who the participant flags name, as a webhook's `identity` (as the fake sends it: a member,
/// else a visitor; a contact has no field of its own there, so it is UNKNOWN, as is no
/// participant at all).
fn participant_identity(args: &Sign) -> WebhookIdentity {
    match (&args.member, &args.visitor) {
        (Some(member), _) => WebhookIdentity {
            identity_type: Some(IdentityType::Member),
            member_id: Some(member.clone()),
            ..Default::default()
        },
        (None, Some(visitor)) => WebhookIdentity {
            identity_type: Some(IdentityType::AnonymousVisitor),
            anonymous_visitor_id: Some(visitor.clone()),
            ..Default::default()
        },
        (None, None) => WebhookIdentity {
            identity_type: Some(IdentityType::Unknown),
            ..Default::default()
        },
    }
}

/// The body of a plain event (App Instance Installed or Removed: the envelope's `data` is the
/// body itself) built from the flags, and the identity that caused it: a Wix user (the site's
/// owner installs and removes apps), as in Wix's examples. A plain event the CLI does not know
/// gets an empty body.
fn plain_event_from_flags(
    event: &'static PlainEvent,
    args: &Sign,
) -> Result<(String, Value, WebhookIdentity), Failure> {
    let body = match event.event_type {
        AppInstanceInstalled::EVENT_TYPE => json(&AppInstanceInstalled {
            app_id: args.app_id.clone(),
            origin_instance_id: args.origin_instance_id.clone(),
            ..Default::default()
        })?,
        AppInstanceRemoved::EVENT_TYPE => json(&AppInstanceRemoved {
            app_id: args.app_id.clone(),
            ..Default::default()
        })?,
        _ => serde_json::json!({}),
    };
    if args.origin_instance_id.is_some() && event.event_type != AppInstanceInstalled::EVENT_TYPE {
        return Err(Failure::Usage(
            "--origin-instance-id is for --event app-instance-installed".into(),
        ));
    }
    let identity = WebhookIdentity {
        identity_type: Some(IdentityType::WixUser),
        wix_user_id: Some(uuid::Uuid::new_v4().to_string()),
        ..Default::default()
    };
    Ok((event.event_type.to_owned(), body, identity))
}

/// A domain event of `event` built from the flags, with the generated types, and the identity
/// that caused it. The Inbox's events are filled from the flags; any other event of the spec
/// gets an empty body (its entity only an ID: `--contact`, or a new one) where its kind says.
fn domain_event_from_flags(
    event: &'static KnownEvent,
    args: &Sign,
) -> Result<(String, Value, WebhookIdentity), Failure> {
    let name = event.name;
    let need_conversation = || {
        args.conversation_id
            .clone()
            .ok_or_else(|| Failure::Usage(format!("--event {name} needs --conversation-id")))
    };
    let text_message = |direction, sender| Message {
        content: Some(MessageContent::text(args.text.clone())),
        direction: Some(direction),
        visibility: Some(MessageVisibility::BusinessAndParticipant),
        sender: Some(sender),
        created_date: Some(chrono::Utc::now()),
        ..Default::default()
    };
    let id = uuid::Uuid::new_v4().to_string();
    let mut identity = participant_identity(args);
    let (fqdn, slug, entity_id, body) = match event.event_type {
        ConversationsMerged::EVENT_TYPE => {
            let target = need_conversation()?;
            if args.old_conversation_id.is_empty() {
                return Err(Failure::Usage(
                    "--event conversations-merged needs --old-conversation-id".into(),
                ));
            }
            let body = ConversationsMerged {
                old_conversation_ids: args.old_conversation_id.clone(),
                target_conversation_id: Some(target.clone()),
                ..Default::default()
            };
            (
                ConversationsMerged::ENTITY_FQDN,
                ConversationsMerged::SLUG,
                target,
                raw(&body)?,
            )
        }
        MessageSentToBusiness::EVENT_TYPE => {
            let sender = IdentificationData {
                anonymous_visitor_id: args.visitor.clone(),
                contact_id: args.contact.clone(),
                member_id: args.member.clone(),
                ..Default::default()
            };
            if sender == IdentificationData::default() {
                return Err(Failure::Usage(
                    "--event message-sent-to-business needs --visitor, --contact or --member"
                        .into(),
                ));
            }
            let body = MessageSentToBusiness {
                conversation_id: Some(need_conversation()?),
                message: Some(text_message(
                    MessageDirection::ParticipantToBusiness,
                    sender,
                )),
                interaction_info: None,
                ..Default::default()
            };
            (
                MessageSentToBusiness::ENTITY_FQDN,
                MessageSentToBusiness::SLUG,
                id.clone(),
                raw(&body)?,
            )
        }
        MessageSentToParticipant::EVENT_TYPE => {
            // The business replied: a Wix user, the same in the sender and the identity.
            let user = uuid::Uuid::new_v4().to_string();
            identity = WebhookIdentity {
                identity_type: Some(IdentityType::WixUser),
                wix_user_id: Some(user.clone()),
                ..Default::default()
            };
            let body = MessageSentToParticipant {
                conversation_id: Some(need_conversation()?),
                message: Some(text_message(
                    MessageDirection::BusinessToParticipant,
                    IdentificationData {
                        wix_user_id: Some(user),
                        ..Default::default()
                    },
                )),
                ..Default::default()
            };
            (
                MessageSentToParticipant::ENTITY_FQDN,
                MessageSentToParticipant::SLUG,
                id.clone(),
                raw(&body)?,
            )
        }
        ButtonInteracted::EVENT_TYPE => {
            let body = ButtonInteracted {
                conversation_id: Some(need_conversation()?),
                interaction_id: Some(args.interaction_id.clone()),
                app_id: None,
                interacted_by: Some(IdentificationData {
                    anonymous_visitor_id: args.visitor.clone(),
                    contact_id: args.contact.clone(),
                    member_id: args.member.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            };
            (
                ButtonInteracted::ENTITY_FQDN,
                ButtonInteracted::SLUG,
                id.clone(),
                raw(&body)?,
            )
        }
        _ => {
            let entity_id = args.contact.clone().unwrap_or_else(|| id.clone());
            let body = match event.kind {
                EventKind::Action | EventKind::Deleted => serde_json::json!({}),
                _ => serde_json::json!({"id": entity_id}),
            };
            (event.entity_fqdn, event.slug, entity_id, raw(&body)?)
        }
    };
    let mut domain_event = DomainEvent {
        id: Some(id),
        entity_fqdn: Some(fqdn.into()),
        slug: Some(slug.into()),
        entity_id: Some(entity_id),
        event_time: Some(chrono::Utc::now()),
        ..Default::default()
    };
    // Where the spec says the event carries its body: an action's body, an entity in its event.
    let entity = |body: RawJson| raw(&serde_json::json!({ event.kind.entity(): body }));
    match event.kind {
        EventKind::Action => {
            domain_event.action_event = Some(ActionEvent {
                body: Some(body),
                ..Default::default()
            })
        }
        EventKind::Created => domain_event.created_event = Some(entity(body)?),
        EventKind::Updated => domain_event.updated_event = Some(entity(body)?),
        _ => domain_event.deleted_event = Some(raw(&serde_json::json!({}))?),
    }
    Ok((format!("{fqdn}_{slug}"), json(&domain_event)?, identity))
}

fn raw(value: &impl serde::Serialize) -> Result<RawJson, Failure> {
    RawJson::new(value).map_err(|e| Failure::Operation(e.to_string()))
}

fn json(value: &impl serde::Serialize) -> Result<Value, Failure> {
    serde_json::to_value(value).map_err(|e| Failure::Operation(e.to_string()))
}
