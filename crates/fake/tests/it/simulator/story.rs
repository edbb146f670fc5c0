//! The story the browser plays: a visitor writes, the app answers, the visitor becomes a contact,
//! faults and failed deliveries are retried.

use super::*;

// ---------------------------------------------------------------------------------------------
// The story

/// A receiver that answers 503 while `fail` is above zero (counting it down), else 200.
async fn receiver(fail: Arc<AtomicUsize>) -> Server {
    Server::start(move |_, _| {
        let fail = fail.clone();
        async move {
            let failing = fail
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if failing {
                StatusCode::SERVICE_UNAVAILABLE.into_response()
            } else {
                StatusCode::OK.into_response()
            }
        }
    })
    .await
}

/// Whether an element matching `css` has `text` in it.
const HAS_TEXT: &str = "return [...document.querySelectorAll(arguments[0])]
    .some(e => e.textContent.includes(arguments[1]));";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_writes_the_app_answers_the_visitor_becomes_a_contact_and_faults_are_retried() {
    let fail = Arc::new(AtomicUsize::new(0));
    let hook = receiver(fail.clone()).await;
    let fake = FakeInbox::builder()
        .webhook_backoff(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let browser = Browser::start().await;
    let outcome = AssertUnwindSafe(story(&browser, &fake, &hook, &fail))
        .catch_unwind()
        .await;
    // On every run, as the story ended (the last event open, as a reviewer would look at it).
    let shot = browser.screenshot().await;
    if let Err(panic) = outcome {
        eprintln!("the page is in {}", shot.display());
        std::panic::resume_unwind(panic);
    }
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
    shows_text_as_text(&browser, &fake).await;
    browser.close().await;
}

/// The story, on the page: each step waited for, with what the fake holds checked too.
async fn story(b: &Browser, fake: &FakeInbox, hook: &Server, fail: &AtomicUsize) {
    let hook_url = format!("{}/webhooks", hook.url);
    b.client()
        .goto(&format!("{}/", fake.base_url()))
        .await
        .unwrap();
    b.wait_for(
        "the page to connect to the stream",
        "return document.querySelector('#live[data-live=true]') !== null",
        vec![],
    )
    .await;
    // Set in this document: still there at the end means the page was never reloaded.
    b.js("window.sameDocument = 'yes'; return true;", vec![])
        .await;

    // Register the test receiver from the page.
    b.type_into("receiver-url", &hook_url).await;
    b.click("#receiver-add").await;
    b.wait_for(
        "the receiver in the controls",
        "return document.querySelector(`#receivers li[data-url=\"${arguments[0]}\"]`) !== null",
        vec![json!(hook_url)],
    )
    .await;
    assert_eq!(fake.webhook_receivers(), vec![hook_url.clone()]);

    // The visitor writes: the message shows in the inbox, its webhook is delivered (200).
    let question = "Hi! Do you ship to Norway?";
    b.type_into("visitor-text", question).await;
    b.click("#visitor-send").await;
    b.wait_for(
        "the visitor's message in the inbox pane",
        HAS_TEXT,
        vec![
            json!("#inbox-messages .message[data-direction=PARTICIPANT_TO_BUSINESS]"),
            json!(question),
        ],
    )
    .await;
    b.wait_for(
        "the visitor's message in the chat",
        HAS_TEXT,
        vec![json!("#chat .bubble.out"), json!(question)],
    )
    .await;
    b.wait_for(
        "Message Sent To Business delivered with 200 in the deliveries pane",
        "return document.querySelector(
            '.event[data-event-type$=message_sent_to_business] .attempt[data-status=\"200\"]') !== null",
        vec![],
    )
    .await;
    fake.settle().await;
    assert_eq!(
        hook.count("/webhooks"),
        1,
        "the receiver got the event once"
    );
    let conversations = fake.conversations();
    assert_eq!(conversations.len(), 1);
    let participant = conversations[0].participant.clone().unwrap();
    let visitor_id = participant
        .anonymous_visitor_id
        .expect("the page's visitor is anonymous");
    let first_conversation = conversations[0].id.clone().unwrap();

    // The app answers through the API: the reply appears in both panes without a reload.
    let client = fake.client();
    let found = client
        .get_or_create_conversation()
        .body(GetOrCreateConversationRequest {
            participant_id: ParticipantId::AnonymousVisitorId(visitor_id.clone()),
        })
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.new_conversation, Some(false));
    let answer = "Yes, we ship to Norway in 3 days.";
    client
        .send_message()
        .body(SendMessageRequest::new(
            &first_conversation,
            Message::reply(answer),
        ))
        .send()
        .await
        .unwrap();
    b.wait_for(
        "the app's reply in the chat",
        HAS_TEXT,
        vec![json!("#chat .bubble.in"), json!(answer)],
    )
    .await;
    b.wait_for(
        "the app's reply in the inbox, sent by the business",
        HAS_TEXT,
        vec![
            json!("#inbox-messages .message[data-direction=BUSINESS_TO_PARTICIPANT]"),
            json!(answer),
        ],
    )
    .await;

    // The visitor becomes a contact: the conversations merge, in both panes.
    b.type_into("contact-id", "contact-ada").await;
    b.click("#become-contact").await;
    b.wait_for(
        "the old conversation marked merged in the inbox pane",
        "return document.querySelector(
            `.conversation.merged[data-id=\"${arguments[0]}\"][data-merged-into]`) !== null",
        vec![json!(first_conversation)],
    )
    .await;
    let target = fake
        .merged_into(&first_conversation)
        .expect("the visitor's conversation was merged");
    b.wait_for(
        "the contact's conversation in the inbox pane, with the moved messages",
        "const c = document.querySelector(`.conversation[data-id=\"${arguments[0]}\"]`);
         return c && c.dataset.kind === 'contact' && c.classList.contains('selected')
             && document.querySelectorAll('#inbox-messages .message').length === 2
             && document.querySelector('#conversation-head .merge-notice') !== null;",
        vec![json!(target)],
    )
    .await;
    b.wait_for(
        "the visitor pane following the merge as the contact",
        "return document.querySelector('#who [data-kind=contact]') !== null
            && document.querySelector(
                `#chat .merge-notice[data-from=\"${arguments[0]}\"][data-to=\"${arguments[1]}\"]`) !== null
            && document.querySelectorAll('#chat .bubble').length === 2;",
        vec![json!(first_conversation), json!(target)],
    )
    .await;
    b.wait_for(
        "Conversations Merged in the deliveries pane",
        "return document.querySelector(
            '.event[data-event-type$=conversations_merged] .attempt[data-status=\"200\"]') !== null",
        vec![],
    )
    .await;

    // The app sends a template with a postback button; the visitor presses it in the chat.
    let template = Message {
        content: Some(MessageContent {
            template: Some(TemplateMessagePayload {
                title: Some("Your order #1042".into()),
                text_lines: vec!["2 × Wool socks".into()],
                buttons: vec![Button {
                    label: Some("Track my parcel".into()),
                    postback_properties: Some(PostbackProperties {
                        interaction_id: Some("track-1042".into()),
                        app_id: None,
                        ..Default::default()
                    }),
                    launch_url: None,
                    ..Default::default()
                }],
                ..Default::default()
            }),
            preview_text: Some("Your order #1042".into()),
            ..Default::default()
        }),
        ..Message::reply("")
    };
    client
        .send_message()
        .body(SendMessageRequest::new(&target, template))
        .send()
        .await
        .unwrap();
    b.wait_for(
        "the template's button in the chat",
        "return document.querySelector('#chat button.postback[data-interaction-id=\"track-1042\"]') !== null",
        vec![],
    )
    .await;
    b.click("#chat button.postback[data-interaction-id=\"track-1042\"]")
        .await;
    b.wait_for(
        "Button Interacted delivered in the deliveries pane",
        "return document.querySelector(
            '.event[data-event-type$=button_interacted] .attempt[data-status=\"200\"]') !== null",
        vec![],
    )
    .await;
    let pressed: ButtonInteracted = fake
        .events()
        .into_iter()
        .find(|e| e.event_type == ButtonInteracted::EVENT_TYPE)
        .expect("Button Interacted was emitted")
        .domain_event
        .action_event
        .and_then(|a| a.body)
        .expect("the event has a body")
        .parse()
        .unwrap();
    assert_eq!(pressed.interaction_id.as_deref(), Some("track-1042"));
    assert_eq!(pressed.conversation_id.as_deref(), Some(target.as_str()));

    // A 503 injected from the page: the app's next call fails and the client retries it
    // (Get Or Create is safe to repeat); the request log shows both.
    b.click("#fault-inject").await; // 503, once: the form's defaults
    b.wait_for(
        "the queued 503 in the controls",
        "return document.querySelector('#pending-faults .fault[data-status=\"503\"]') !== null",
        vec![],
    )
    .await;
    assert_eq!(fake.pending_faults().len(), 1);
    // The receiver fails its next delivery with 503: the fake redelivers.
    fail.store(1, Ordering::SeqCst);
    let contact = client
        .get_or_create_conversation()
        .body(GetOrCreateConversationRequest {
            participant_id: ParticipantId::ContactId("contact-ada".into()),
        })
        .send()
        .await
        .expect("the client retries the injected 503")
        .into_inner();
    assert_eq!(
        contact.conversation.unwrap().id.as_deref(),
        Some(target.as_str())
    );
    let follow_up = "Your parcel left today.";
    client
        .send_message()
        .body(SendMessageRequest::new(&target, Message::reply(follow_up)))
        .send()
        .await
        .unwrap();
    b.wait_for(
        "the injected 503 and its retry in the request log",
        "const statuses = [...document.querySelectorAll('#requests .request')]
            .filter(r => r.textContent.includes('/inbox/v2/conversations'))
            .map(r => r.dataset.status);
         return statuses.includes('503') && statuses.filter(s => s === '200').length >= 2
            && document.querySelector('#pending-faults .fault') === null;",
        vec![],
    )
    .await;
    b.wait_for(
        "the failed delivery and its retry in the deliveries pane",
        "const e = [...document.querySelectorAll('.event[data-event-type$=message_sent_to_participant]')]
            .find(e => e.querySelector('.attempt[data-status=\"503\"]'));
         return e && [...e.querySelectorAll('.attempt')].map(a => a.dataset.status).join(',') === '503,200'
            && e.querySelector('.retries') !== null;",
        vec![],
    )
    .await;
    fake.settle().await;
    let retried = fake
        .deliveries()
        .into_iter()
        .find(|d| d.attempts.len() == 2)
        .expect("one delivery was retried");
    assert_eq!(
        retried
            .attempts
            .iter()
            .map(|a| a.status)
            .collect::<Vec<_>>(),
        [Some(503), Some(200)]
    );
    assert!(retried.delivered);

    // Open that event: its decoded form and JWT; redeliver it.
    b.click(&format!(".event[data-event-id=\"{}\"]", retried.event_id))
        .await;
    b.wait_for(
        "the event's decoded form and JWT",
        "const jwt = document.getElementById('event-jwt').textContent;
         return !document.getElementById('event-detail').hidden && jwt.split('.').length === 3
            && document.getElementById('event-decoded').textContent.includes(arguments[0]);",
        vec![json!(follow_up)],
    )
    .await;
    let before = hook.count("/webhooks");
    b.click("#redeliver").await;
    b.wait_for(
        "the redelivery in the deliveries pane",
        "const e = document.querySelector(`.event[data-event-id=\"${arguments[0]}\"]`);
         return e && e.querySelectorAll('.delivery').length === 2
            && e.querySelectorAll('.delivery[data-state=delivered]').length === 2;",
        vec![json!(retried.event_id)],
    )
    .await;
    assert_eq!(hook.count("/webhooks"), before + 1);

    // The business writes from its inbox (the contact's conversation is open there).
    b.type_into("business-text", "Thanks for your order, Ada!")
        .await;
    b.click("#business-send").await;
    b.wait_for(
        "the business's message in the chat",
        HAS_TEXT,
        vec![
            json!("#chat .bubble.in"),
            json!("Thanks for your order, Ada!"),
        ],
    )
    .await;

    assert_eq!(
        b.js("return window.sameDocument || null;", vec![]).await,
        json!("yes"),
        "the page was never reloaded"
    );
}

/// What the fake holds is shown as text, never run as HTML (after the screenshot: it is not
/// pretty).
async fn shows_text_as_text(b: &Browser, fake: &FakeInbox) {
    let hostile = "<img src=x onerror=\"window.pwned=1\"><b>bold</b>";
    fake.visitor_writes("visitor-hostile", hostile);
    b.wait_for(
        "the hostile message, as text, in the inbox's list",
        HAS_TEXT,
        vec![json!("#conversations .preview"), json!(hostile)],
    )
    .await;
    assert_eq!(
        b.js(
            "return [window.pwned === undefined, document.querySelectorAll('main img, main b').length];",
            vec![]
        )
        .await,
        json!([true, 0])
    );
}
