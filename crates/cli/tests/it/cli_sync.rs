//! `wix-inbox contacts find`, `members find` and `sync` (Wix's "Sync messages from an external
//! service"), run as processes: against a recording stand-in for Wix (the requests they send,
//! exactly) and against the fake Inbox (what Wix stores).

use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use wix_inbox::lookup::Key;
use wix_inbox::types::ParticipantId;
use wix_inbox_fake::{ContactDetails, FakeInbox, MemberDetails};

use crate::cli::{assert_fails, cli, cli_for, json as stdout_json, run};
use crate::harness::{json as answer, Seen, Server};

const ICON: &str = "https://example.com/helpdesk.png";
/// The badge flags of the tests.
const WITH_BADGE: &[&str] = &["--badge-text", "From Helpdesk", "--badge-icon", ICON];

/// Create Contact with this email answers 409 as another process had just created the contact
/// (`c-theirs`, which Query Contacts finds from then on).
const RACED: &str = "raced@example.com";
/// Create Contact with this email answers 409, but Query Contacts does not find the contact.
const LAGGING: &str = "lagging@example.com";

/// Wix for these commands, recording every request: Query Contacts and Query Members by email
/// over `contacts` and `members`, Create Contact (IDs `created-1`, …; but see [`RACED`] and
/// [`LAGGING`]), Get Or Create Conversation (`conversation-of-<contact>`), Send Message (the
/// message back, with an ID).
async fn stand_in(contacts: Vec<Value>, members: Vec<Value>) -> Server {
    let contacts = Arc::new(Mutex::new(contacts));
    Server::start(move |seen: Seen, n| {
        let contacts = contacts.clone();
        let members = members.clone();
        async move {
            let body = seen.json();
            match seen.path.as_str() {
                "/contacts/v4/contacts/query" => {
                    let key = Key::from_filter(body["query"]["filter"].as_object().unwrap());
                    let has_key = |c: &&Value| {
                        c["info"]["emails"]["items"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|e| {
                                Some(Key::ContactEmail(e["email"].as_str().unwrap().into())) == key
                            })
                    };
                    let all = contacts.lock().unwrap().clone();
                    one_page("contacts", "pagingMetadata", all.iter().filter(has_key))
                }
                "/members/v1/members/query" => {
                    let login = &body["query"]["filter"]["loginEmail"];
                    let matching = members.iter().filter(|m| &m["loginEmail"] == login);
                    one_page("members", "metadata", matching)
                }
                "/contacts/v4/contacts" => {
                    let email = body["info"]["emails"]["items"][0]["email"].as_str();
                    if let Some(RACED | LAGGING) = email {
                        if email == Some(RACED) {
                            contacts
                                .lock()
                                .unwrap()
                                .push(contact("c-theirs", "Theirs", RACED));
                        }
                        let refusal = json!({"message": "a contact with this email exists",
                            "details": {"applicationError": {"code": "DUPLICATE_CONTACT_EXISTS"}}});
                        return answer(409, refusal, &[]);
                    }
                    let contact = json!({"id": format!("created-{n}"), "info": body["info"]});
                    contacts.lock().unwrap().push(contact.clone());
                    answer(200, json!({"contact": contact}), &[])
                }
                "/inbox/v2/conversations" => {
                    let contact = body["participantId"]["contactId"].as_str().unwrap();
                    answer(
                        200,
                        json!({"conversation": {"id": format!("conversation-of-{contact}"),
                               "participant": {"contactId": contact}}}),
                        &[],
                    )
                }
                "/inbox/v2/messages" => {
                    let mut message = body["message"].clone();
                    message["id"] = json!("1640849952353627");
                    answer(200, json!({"message": message}), &[])
                }
                other => answer(404, json!({"message": format!("no route {other}")}), &[]),
            }
        }
    })
    .await
}

/// A query's answer: every record on one page, in `records` with Wix's count in `metadata`.
fn one_page<'a>(
    records: &str,
    metadata: &str,
    matching: impl Iterator<Item = &'a Value>,
) -> axum::response::Response {
    let matching: Vec<&Value> = matching.collect();
    let total = matching.len();
    let metadata_value = json!({"count": total, "offset": 0, "total": total});
    answer(
        200,
        json!({records: matching, metadata: metadata_value}),
        &[],
    )
}

fn contact(id: &str, first: &str, email: &str) -> Value {
    json!({"id": id, "info": {"name": {"first": first, "last": "Doe"},
           "emails": {"items": [{"email": email, "tag": "MAIN"}]}}})
}

/// The command with credentials for `server`.
fn cli_at(server: &Server) -> Command {
    let mut cmd = cli();
    cmd.env("WIX_API_KEY", "key")
        .env("WIX_SITE_ID", "site")
        .env("WIX_BASE_URL", &server.url);
    cmd
}

/// The bodies of the requests to `path`.
fn bodies(server: &Server, path: &str) -> Vec<Value> {
    server
        .seen()
        .iter()
        .filter(|s| s.path == path)
        .map(Seen::json)
        .collect()
}

fn lines(out: &std::process::Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a line is JSON"))
        .collect()
}

fn sync_args<'a>(email: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["sync", "--email", email, "--text", "Where is my order?"];
    args.extend_from_slice(more);
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_sends_from_the_contact_for_the_business_with_the_badge() {
    let server = stand_in(vec![contact("c-1", "Jane", "jane@example.com")], vec![]).await;
    let mut cmd = cli_at(&server);
    cmd.args(sync_args("jane@example.com", WITH_BADGE));
    let out = stdout_json(&run(cmd).await);
    assert_eq!(out["contactId"], "c-1");
    assert_eq!(out["contactCreated"], false);
    assert_eq!(out["conversationId"], "conversation-of-c-1");
    assert_eq!(out["message"]["id"], "1640849952353627");
    assert_eq!(
        bodies(&server, "/contacts/v4/contacts/query")[0]["query"]["filter"],
        json!({"info.emails.email": {"$eq": "jane@example.com"}})
    );
    assert_eq!(
        bodies(&server, "/inbox/v2/conversations"),
        [json!({"participantId": {"contactId": "c-1"}})]
    );
    let sent = bodies(&server, "/inbox/v2/messages");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["conversationId"], "conversation-of-c-1");
    let message = &sent[0]["message"];
    assert_eq!(message["direction"], "PARTICIPANT_TO_BUSINESS");
    assert_eq!(message["visibility"], "BUSINESS");
    assert_eq!(
        message["badges"],
        json!([{"text": "From Helpdesk", "iconUrl": ICON}])
    );
    assert_eq!(
        message["content"]["basic"]["items"][0]["text"],
        "Where is my order?"
    );
    // Nothing was created.
    assert!(bodies(&server, "/contacts/v4/contacts").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_without_a_badge_sends_none() {
    let server = stand_in(vec![contact("c-1", "Jane", "jane@example.com")], vec![]).await;
    let mut cmd = cli_at(&server);
    cmd.args(sync_args("jane@example.com", &[]));
    stdout_json(&run(cmd).await);
    let sent = bodies(&server, "/inbox/v2/messages");
    assert!(sent[0]["message"]
        .get("badges")
        .is_none_or(|b| b == &json!([])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_creates_the_contact_only_when_asked() {
    let server = stand_in(vec![], vec![]).await;
    let mut cmd = cli_at(&server);
    cmd.args(sync_args("new@example.com", &[]));
    let out = run(cmd).await;
    assert_fails(&out, 1, "no contact has the email new@example.com");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--create-contact"));
    assert!(out.stdout.is_empty());
    assert!(bodies(&server, "/contacts/v4/contacts").is_empty());
    assert!(bodies(&server, "/inbox/v2/messages").is_empty());

    let mut cmd = cli_at(&server);
    cmd.args(sync_args("new@example.com", &["--create-contact"]));
    let out = stdout_json(&run(cmd).await);
    assert_eq!(out["contactCreated"], true);
    let created = out["contactId"].as_str().unwrap();
    assert!(created.starts_with("created-"), "{out}");
    assert_eq!(
        bodies(&server, "/contacts/v4/contacts"),
        [json!({"info": {"emails": {"items": [
            {"email": "new@example.com", "tag": "MAIN", "primary": true}
        ]}}})]
    );
    assert_eq!(
        bodies(&server, "/inbox/v2/messages")[0]["conversationId"],
        format!("conversation-of-{created}")
    );

    // The next sync finds the contact: nothing is created twice.
    let mut cmd = cli_at(&server);
    cmd.args(sync_args("new@example.com", &["--create-contact"]));
    let out = stdout_json(&run(cmd).await);
    assert_eq!(out["contactId"], created);
    assert_eq!(out["contactCreated"], false);
    assert_eq!(bodies(&server, "/contacts/v4/contacts").len(), 1);
}

/// Two syncs of a new email at once: the second one's Create Contact is refused (409), and it
/// sends to the contact the first one created instead of failing or creating a second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_created_meanwhile_elsewhere_is_used() {
    let server = stand_in(vec![], vec![]).await;
    let mut cmd = cli_at(&server);
    cmd.args(sync_args(RACED, &["--create-contact"]));
    let out = stdout_json(&run(cmd).await);
    assert_eq!(out["contactId"], "c-theirs");
    assert_eq!(out["contactCreated"], false);
    assert_eq!(bodies(&server, "/contacts/v4/contacts/query").len(), 2);
    assert_eq!(bodies(&server, "/contacts/v4/contacts").len(), 1);
    assert_eq!(
        bodies(&server, "/inbox/v2/conversations"),
        [json!({"participantId": {"contactId": "c-theirs"}})]
    );

    // Refused, and still not found: one clear line, nothing sent.
    let mut cmd = cli_at(&server);
    cmd.args(sync_args(LAGGING, &["--create-contact"]));
    assert_fails(&run(cmd).await, 1, "does not find it yet: try again");
    assert_eq!(bodies(&server, "/contacts/v4/contacts").len(), 2);
    assert_eq!(bodies(&server, "/inbox/v2/messages").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_contacts_are_listed_and_contact_picks_one() {
    let server = stand_in(
        vec![
            contact("c-1", "Jane", "shared@example.com"),
            // A name Wix sends can hold anything: it must not add a line or reach the terminal.
            contact("c-2", "Jo\n\u{1b}[2J", "shared@example.com"),
            contact("c-3", "Other", "other@example.com"),
        ],
        vec![],
    )
    .await;
    let mut cmd = cli_at(&server);
    cmd.args(sync_args("shared@example.com", &["--create-contact"]));
    let out = run(cmd).await;
    assert_fails(&out, 1, "2 contacts have the email shared@example.com");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(r#"c-1 "Jane Doe""#), "{stderr}");
    assert!(stderr.contains(r#"c-2 "Jo\n\u{1b}[2J Doe""#), "{stderr}");
    assert!(stderr.contains("--contact ID"), "{stderr}");
    assert!(!stderr.contains("c-3"), "{stderr}");
    assert!(bodies(&server, "/inbox/v2/messages").is_empty());
    assert!(bodies(&server, "/contacts/v4/contacts").is_empty());

    let mut cmd = cli_at(&server);
    cmd.args(sync_args("shared@example.com", &["--contact", "c-2"]));
    assert_eq!(stdout_json(&run(cmd).await)["contactId"], "c-2");
    assert_eq!(
        bodies(&server, "/inbox/v2/conversations"),
        [json!({"participantId": {"contactId": "c-2"}})]
    );

    // An ID that is not among the matches is refused, and nothing is sent.
    for (email, id, needle) in [
        ("shared@example.com", "c-3", "is not one of the contacts"),
        ("nobody@example.com", "c-1", "no contact has it"),
    ] {
        let mut cmd = cli_at(&server);
        cmd.args(sync_args(email, &["--contact", id]));
        assert_fails(&run(cmd).await, 1, needle);
    }
    assert_eq!(bodies(&server, "/inbox/v2/messages").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_contacts_are_listed_ten_then_counted() {
    let many = (0..13)
        .map(|i| contact(&format!("c-{i:02}"), "Jane", "shared@example.com"))
        .collect();
    let server = stand_in(many, vec![]).await;
    let mut cmd = cli_at(&server);
    cmd.args(sync_args("shared@example.com", &[]));
    let out = run(cmd).await;
    assert_fails(&out, 1, "13 contacts have the email");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("c-09") && !stderr.contains("c-10"),
        "{stderr}"
    );
    assert!(stderr.contains("and 3 more"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_find_and_members_find_print_every_match() {
    let server = stand_in(
        vec![
            contact("c-1", "Jane", "shared@example.com"),
            contact("c-2", "Jo", "shared@example.com"),
        ],
        vec![
            json!({"id": "m-1", "loginEmail": "john@example.com", "contactId": "c-9",
                    "status": "APPROVED"}),
        ],
    )
    .await;
    let mut cmd = cli_at(&server);
    cmd.args(["contacts", "find", "--email", "shared@example.com"]);
    let found = lines(&run(cmd).await);
    assert_eq!(found.len(), 2);
    assert_eq!(found[1]["id"], "c-2");
    assert_eq!(found[1]["info"]["name"]["first"], "Jo");
    assert_eq!(
        found[1]["info"]["emails"]["items"][0]["email"],
        "shared@example.com"
    );
    let query = &bodies(&server, "/contacts/v4/contacts/query")[0]["query"];
    assert_eq!(query["fieldsets"], json!(["COMMUNICATION_DETAILS"]));

    let mut cmd = cli_at(&server);
    cmd.args(["contacts", "find", "--email", "nobody@example.com"]);
    assert!(lines(&run(cmd).await).is_empty());

    let mut cmd = cli_at(&server);
    cmd.args(["members", "find", "--email", "john@example.com"]);
    let found = lines(&run(cmd).await);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["contactId"], "c-9");
    assert_eq!(
        bodies(&server, "/members/v1/members/query")[0]["fieldsets"],
        json!(["FULL"])
    );
}

/// Bad arguments are refused before any request (exit 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sync_arguments_are_usage_errors_before_any_request() {
    let server = stand_in(vec![contact("c-1", "Jane", "jane@example.com")], vec![]).await;
    let cases: &[(&[&str], &str)] = &[
        (&["--badge-text", "From Helpdesk"], "--badge-icon"),
        (&["--badge-icon", ICON], "--badge-text"),
        (
            &[
                "--badge-text",
                "x",
                "--badge-icon",
                "http://example.com/i.png",
            ],
            "https://",
        ),
        (
            &["--badge-text", "x", "--badge-icon", "helpdesk.png"],
            "not a URL",
        ),
        (
            &["--badge-text", " ", "--badge-icon", ICON],
            "must not be empty",
        ),
        (
            &["--create-contact", "--contact", "c-1"],
            "cannot be used with",
        ),
    ];
    for (more, needle) in cases {
        let mut cmd = cli_at(&server);
        cmd.args(sync_args("jane@example.com", more));
        assert_fails(&run(cmd).await, 2, needle);
    }
    let mut cmd = cli_at(&server);
    cmd.args(["sync", "--email", "", "--text", "hi"]);
    assert_fails(&run(cmd).await, 2, "must not be empty");
    let mut cmd = cli_at(&server);
    cmd.args(["sync", "--email", "jane@example.com"]);
    assert_fails(&run(cmd).await, 2, "--text");
    assert!(server.seen().is_empty(), "{:?}", server.seen());
}

// -------------------------------------------------------------------------------------------
// Against the fake Inbox: what Wix stores.

/// The fake's stored message for what `sync` printed: in the contact's current conversation,
/// the text, from the participant, for the business, with the badge of [`WITH_BADGE`] if given.
fn assert_stored_synced(fake: &FakeInbox, out: &Value, text: &str, with_badge: bool) {
    let conversation = out["conversationId"].as_str().unwrap();
    let contact = ParticipantId::ContactId(out["contactId"].as_str().unwrap().into());
    assert_eq!(
        fake.current_conversation_id(&contact).as_deref(),
        Some(conversation)
    );
    let stored = fake.messages(conversation);
    let message = stored.last().unwrap();
    assert_eq!(out["message"]["id"].as_str(), message.id.as_deref());
    let badges = if with_badge {
        vec![crate::sync::badge()]
    } else {
        vec![]
    };
    crate::sync::assert_synced(message, text, &badges);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_against_the_fake_found_created_refused_and_picked() {
    let fake = crate::sync::fake_with_jane().await;

    // Found: into the contact's current conversation, after the visitor's message.
    let mut cmd = cli_for(&fake);
    cmd.args(sync_args("jane@example.com", WITH_BADGE));
    let out = stdout_json(&run(cmd).await);
    assert_eq!(out["contactId"], "c-1");
    assert_stored_synced(&fake, &out, "Where is my order?", true);
    let conversation = out["conversationId"].as_str().unwrap();
    assert_eq!(
        fake.message_texts(conversation),
        ["hi", "Where is my order?"]
    );

    // None: refused without --create-contact, created with it.
    let mut cmd = cli_for(&fake);
    cmd.args(sync_args("new@example.com", &[]));
    assert_fails(
        &run(cmd).await,
        1,
        "no contact has the email new@example.com",
    );
    assert_eq!(fake.contacts().len(), 1);
    let mut cmd = cli_for(&fake);
    cmd.args(sync_args("new@example.com", &["--create-contact"]));
    let out = stdout_json(&run(cmd).await);
    assert_eq!(out["contactCreated"], true);
    let created = fake.contact(out["contactId"].as_str().unwrap()).unwrap();
    let emails = created.info.unwrap().emails.unwrap().items;
    assert_eq!(emails[0].email.as_deref(), Some("new@example.com"));
    assert_stored_synced(&fake, &out, "Where is my order?", false);

    // Several: refused with both listed; --contact picks one.
    fake.add_contact(
        ContactDetails::new("c-2")
            .name("Jane", "Roe")
            .email("jane@example.com"),
    );
    let mut cmd = cli_for(&fake);
    cmd.args(sync_args("jane@example.com", &[]));
    let out = run(cmd).await;
    assert_fails(&out, 1, "2 contacts have the email jane@example.com");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(r#"c-1 "Jane Doe", c-2 "Jane Roe""#),
        "{stderr}"
    );
    let mut cmd = cli_for(&fake);
    cmd.args(sync_args("jane@example.com", &["--contact", "c-2"]));
    let out = stdout_json(&run(cmd).await);
    assert_eq!(out["contactId"], "c-2");
    assert_stored_synced(&fake, &out, "Where is my order?", false);
    // c-1's conversation got nothing more.
    assert_eq!(fake.message_texts(conversation).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_find_and_members_find_against_the_fake() {
    let fake = FakeInbox::start().await.unwrap();
    fake.add_contact(
        ContactDetails::new("c-1")
            .name("Jane", "Doe")
            .email("jane@example.com"),
    );
    fake.add_contact(ContactDetails::new("c-2").email("jane@example.com"));
    // No conversation to merge (None): the member is stored all the same.
    fake.contact_becomes_member("c-1", MemberDetails::new("m-1"));

    let mut cmd = cli_for(&fake);
    cmd.args(["contacts", "find", "--email", "jane@example.com"]);
    let found = lines(&run(cmd).await);
    let ids: Vec<_> = found.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["c-1", "c-2"]);
    assert_eq!(
        found[0]["info"]["name"],
        json!({"first": "Jane", "last": "Doe"})
    );
    assert_eq!(
        found[0]["info"]["emails"]["items"][0]["email"],
        "jane@example.com"
    );

    // The member logs in with the contact's primary email; FULL gives it and the contact ID.
    let mut cmd = cli_for(&fake);
    cmd.args(["members", "find", "--email", "jane@example.com"]);
    let found = lines(&run(cmd).await);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["id"], "m-1");
    assert_eq!(found[0]["loginEmail"], "jane@example.com");
    assert_eq!(found[0]["contactId"], "c-1");

    let mut cmd = cli_for(&fake);
    cmd.args(["members", "find", "--email", "nobody@example.com"]);
    assert!(lines(&run(cmd).await).is_empty());
}
