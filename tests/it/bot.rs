//! The multi-tenant bot of `examples/bot.rs`, run as a test: three sites on the fake, each
//! answered through its own app instance, the bot's own message, a redelivery and a merge.

#[path = "../../examples/bot.rs"]
#[allow(dead_code)]
mod example;

#[tokio::test]
async fn the_bot_answers_three_sites_through_their_instances() {
    let mut lines = Vec::new();
    let result = example::demo(&mut |line| lines.push(line)).await;
    crate::harness::assert_told(
        result,
        &lines,
        &[
            "installed on 3 sites",
            "site 1 (instance",
            "site 2 (instance",
            "site 3 (instance",
            "came back and was not answered",
            "dropped as a duplicate (still 1 answer)",
            "the bot answered there",
            "4 replies on 3 sites, one token request per instance (3)",
        ],
    );
}
