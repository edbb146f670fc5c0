//! Wix's "Sync messages from an external service": `sync EMAIL TEXT` records what a contact wrote
//! elsewhere in their conversation; credentials from the environment (`fake serve` prints them).
use wix_inbox::state::Replies;
use wix_inbox::types::{Badge, Message};
use wix_inbox::{contacts::find_or_create_by_email, send::SentMessage, Client, ClientBuilder};
type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Finds (or creates) the contact and sends `text` as synced (`sendAs`: the caller, the default),
/// remembered as the app's own: a bot sharing `own`'s store does not answer it.
pub async fn sync(c: &Client, own: &Replies, email: &str, text: &str) -> Result<SentMessage> {
    let contact = find_or_create_by_email(c, email).await?.participant_id();
    let message = Message::synced(text, Some(Badge::named("Email")));
    Ok(own.send_own(c, &contact, message, None).await?)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, email, text] = &args[..] else {
        return Err("usage: sync EMAIL TEXT".into());
    };
    let client = ClientBuilder::from_env()?.build()?;
    let sent = sync(&client, &Replies::new(), email, text).await?;
    println!("synced in {}: {:?}", sent.conversation_id, sent.message);
    Ok(())
}
