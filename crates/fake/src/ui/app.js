// The fake Inbox simulator: a view of the fake's state, streamed from GET /_fake/stream
// (Server-Sent Events, one JSON snapshot per change), and forms that call the control API
// under /_fake/. The page keeps no model of its own beyond what is selected on it.
//
// Every text from the fake is put in the page with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);

/** An element with attributes (`class`, `data-*`, `on*` handlers...) and children. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const short = (id) => (id && id.length > 12 ? id.slice(0, 8) + "…" : id || "");
const time = (date) =>
  date ? new Date(date).toLocaleTimeString([], { hour12: false }) : "";
const randomId = (prefix) => prefix + crypto.randomUUID().slice(0, 8);

// ---------------------------------------------------------------------------------------------
// What is selected on the page (the rest comes from the fake)

/** The latest snapshot. */
let snap = null;
/** The instance shown. Today a fake has one; with several, control calls will name it. */
let instanceId = null;
/**
 * The person the visitor pane writes as: the ID they are addressed by (`participant`, a
 * ParticipantId), the IDs they have had, and their conversation once known.
 */
let me = newVisitor();
/** The conversation open in the inbox pane; `pinned` once chosen by a click. */
let inboxSelection = { id: null, pinned: false, mergedFrom: null };
/** The webhook event open in the deliveries pane. */
let openEvent = null;

function newVisitor() {
  const visitorId = randomId("visitor-");
  return { participant: { anonymousVisitorId: visitorId }, visitorId, conversationId: null, merges: [] };
}

// ---------------------------------------------------------------------------------------------
// The control API

async function call(path, body) {
  const response = await fetch("/_fake/" + path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = answer.message || response.statusText;
    showError(`${path}: ${message}`);
    throw new Error(message);
  }
  return answer;
}

let errorTimer = null;
function showError(text) {
  const footer = $("error");
  footer.textContent = text;
  footer.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => (footer.hidden = true), 6000);
}

// ---------------------------------------------------------------------------------------------
// Messages

function conversationById(id) {
  return snap && snap.conversations.find((c) => c.id === id);
}

/** Follows merges from `id` to the conversation in use. */
function current(id) {
  const c = conversationById(id);
  return c && c.mergedInto ? c.mergedInto : id;
}

/** How a sender is named: the kind of ID they have, and the ID. */
function senderLabel(sender) {
  if (!sender) return "unknown";
  if (sender.appId) return "app";
  if (sender.wixUserId) return "business";
  if (sender.memberId) return "member " + sender.memberId;
  if (sender.contactId) return "contact " + sender.contactId;
  if (sender.anonymousVisitorId) return "visitor " + sender.anonymousVisitorId;
  return "unknown";
}

/** The message's content as nodes; postback buttons call `press` when given. */
function contentNodes(content, press) {
  if (!content) return [el("em", {}, "(no content)")];
  const out = [];
  const buttons = (list) =>
    el(
      "div",
      { class: "buttons" },
      (list || []).map((b) => {
        const interaction = b.postbackProperties && b.postbackProperties.interactionId;
        if (interaction) {
          return el(
            "button",
            {
              type: "button",
              class: "postback",
              "data-interaction-id": interaction,
              disabled: !press,
              title: "Button Interacted: " + interaction,
              onclick: press ? () => press(interaction) : undefined,
            },
            b.label || interaction,
          );
        }
        return el("span", { class: "link-button", title: b.launchUrl || "" }, (b.label || "link") + " ↗");
      }),
    );
  if (content.title) out.push(el("strong", {}, content.title));
  if (content.basic) {
    for (const item of content.basic.items || []) {
      if (item.text) out.push(el("p", {}, item.text));
      else if (item.image) out.push(el("p", { class: "media" }, "[image] " + (item.image.url || "")));
      else if (item.file) out.push(el("p", { class: "media" }, "[file] " + (item.file.filename || item.file.url || "")));
    }
  }
  if (content.template) {
    const t = content.template;
    if (t.title) out.push(el("strong", {}, t.title));
    for (const line of t.textLines || []) out.push(el("p", {}, line));
    out.push(buttons(t.buttons));
  }
  if (content.minimal) out.push(el("p", {}, content.minimal.text || ""));
  if (content.form) {
    const f = content.form;
    if (f.title) out.push(el("strong", {}, f.title));
    for (const field of f.fields || []) out.push(el("p", {}, `${field.name}: ${field.value}`));
  }
  if (content.system) {
    out.push(el("p", { class: "system" }, content.system.text || ""));
    out.push(buttons(content.system.buttons));
  }
  if (out.length === 0 && content.previewText) out.push(el("p", {}, content.previewText));
  return out;
}

/**
 * Renders only when what is shown changed (`inputs`, compared as JSON), so that an element
 * being clicked is not replaced under the pointer by an update about something else.
 */
const shown = new Map();
function changed(key, inputs) {
  const text = JSON.stringify(inputs);
  if (shown.get(key) === text) return false;
  shown.set(key, text);
  return true;
}

function keepScrolledDown(list, render) {
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  render();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

// ---------------------------------------------------------------------------------------------
// The visitor's side

function participantKey(p) {
  return JSON.stringify(p);
}

/** The ParticipantId a conversation's participant is addressed by. */
function addressOf(identification) {
  if (!identification) return null;
  if (identification.memberId) return { memberId: identification.memberId };
  if (identification.contactId) return { contactId: identification.contactId };
  if (identification.anonymousVisitorId) return { anonymousVisitorId: identification.anonymousVisitorId };
  return null;
}

function describe(p) {
  if (p.memberId) return "member " + p.memberId;
  if (p.contactId) return "contact " + p.contactId;
  return "visitor " + p.anonymousVisitorId;
}

function renderVisitor() {
  // Follow merges: the conversation the person writes in now.
  if (me.conversationId) {
    const now = current(me.conversationId);
    if (now !== me.conversationId) {
      me.merges.push({ from: me.conversationId, to: now });
      me.conversationId = now;
      const c = conversationById(now);
      const address = c && addressOf(c.participant);
      if (address) me.participant = address;
    }
  }

  const live = snap.conversations.filter((c) => !c.mergedInto).map((c) => c.participant);
  const c = me.conversationId && conversationById(me.conversationId);
  if (!changed("visitor", [me, live, c])) return;
  const select = $("participant");
  const options = [];
  const mine = participantKey(me.participant);
  const seen = new Set();
  const add = (p, label) => {
    const key = participantKey(p);
    if (seen.has(key)) return;
    seen.add(key);
    options.push(el("option", { value: key, selected: key === mine }, label));
  };
  add(me.participant, describe(me.participant) + " (you)");
  for (const c of snap.conversations) {
    if (c.mergedInto) continue;
    const address = addressOf(c.participant);
    if (address) add(address, describe(address));
  }
  select.replaceChildren(...options);

  const kind = me.participant.memberId ? "member" : me.participant.contactId ? "contact" : "visitor";
  $("who").replaceChildren(
    el("span", { class: "badge kind-" + kind, "data-kind": kind }, kind),
    " ",
    describe(me.participant),
    me.conversationId ? el("span", { class: "muted" }, " · conversation " + short(me.conversationId)) : "",
  );
  $("contact-form").hidden = kind !== "visitor";
  $("member-form").hidden = kind === "member";

  const chat = $("chat");
  keepScrolledDown(chat, () => {
    const items = [];
    for (const merge of me.merges) {
      items.push(
        el("li", { class: "merge-notice", "data-from": merge.from, "data-to": merge.to },
          `Conversation ${short(merge.from)} merged into ${short(merge.to)}`),
      );
    }
    if (!c) items.push(el("li", { class: "empty" }, "No conversation yet: write something."));
    else {
      for (const m of c.messages) {
        if (m.visibility === "BUSINESS") continue; // the participant does not see these
        const mineSide = m.direction === "PARTICIPANT_TO_BUSINESS";
        items.push(
          el(
            "li",
            { class: "bubble " + (mineSide ? "out" : "in"), "data-id": m.id },
            el("div", { class: "meta" }, senderLabel(m.sender), " · ", time(m.createdDate)),
            contentNodes(m.content, mineSide ? null : press),
          ),
        );
      }
    }
    chat.replaceChildren(...items);
  });
}

async function press(interactionId) {
  await call("participants/press-button", { participant: me.participant, interactionId });
}

$("participant").addEventListener("change", (e) => {
  const participant = JSON.parse(e.target.value);
  if (participantKey(participant) === participantKey(me.participant)) return;
  const c = snap.conversations.find(
    (c) => !c.mergedInto && participantKey(addressOf(c.participant)) === e.target.value,
  );
  me = {
    participant,
    visitorId: participant.anonymousVisitorId || (c && c.participant.anonymousVisitorId) || null,
    conversationId: c ? c.id : null,
    merges: [],
  };
  render();
});

$("new-visitor").addEventListener("click", () => {
  me = newVisitor();
  render();
});

$("visitor-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("visitor-text");
  const text = input.value.trim();
  if (!text) return;
  const written = await call("participants/write", { participant: me.participant, text });
  input.value = "";
  me.conversationId = written.conversationId;
  if (!inboxSelection.pinned) inboxSelection = { id: written.conversationId, pinned: false, mergedFrom: null };
  if (snap) render();
});

$("contact-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const contactId = $("contact-id").value.trim() || randomId("contact-");
  const answer = await call("participants/become-contact", { visitorId: me.visitorId, contactId });
  me.participant = { contactId };
  me.contactId = contactId;
  if (answer.merged) me.conversationId = me.conversationId || answer.merged.targetConversationId;
  $("contact-id").value = "";
  if (snap) render();
});

$("member-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const memberId = $("member-id").value.trim() || randomId("member-");
  const body = me.participant.contactId
    ? { contactId: me.participant.contactId, memberId }
    : { visitorId: me.visitorId, contactId: randomId("contact-"), memberId };
  const answer = await call("participants/become-member", body);
  me.participant = { memberId };
  if (answer.merged) me.conversationId = me.conversationId || answer.merged.targetConversationId;
  $("member-id").value = "";
  if (snap) render();
});

// ---------------------------------------------------------------------------------------------
// The business inbox

function lastActivity(c) {
  const last = c.messages[c.messages.length - 1];
  return last ? last.sequence || "" : "";
}

function renderInbox() {
  const all = snap.conversations;
  // Follow a merge of the open conversation, and say so.
  if (inboxSelection.id) {
    const now = current(inboxSelection.id);
    if (now !== inboxSelection.id) {
      inboxSelection = { id: now, pinned: inboxSelection.pinned, mergedFrom: inboxSelection.id };
    }
  }
  if (!inboxSelection.pinned && !conversationById(inboxSelection.id)) {
    const live = all.filter((c) => !c.mergedInto);
    live.sort((a, b) => (lastActivity(a) < lastActivity(b) ? 1 : -1));
    inboxSelection.id = live.length ? live[0].id : null;
  }

  if (!changed("inbox", [all, inboxSelection])) return;
  const list = [...all].reverse().map((c) => {
    const last = c.messages[c.messages.length - 1];
    const address = addressOf(c.participant);
    return el(
      "li",
      {
        class: "conversation" + (c.mergedInto ? " merged" : "") + (c.id === inboxSelection.id ? " selected" : ""),
        "data-id": c.id,
        "data-kind": c.kind,
        "data-merged-into": c.mergedInto,
        tabindex: 0,
        onclick: () => {
          inboxSelection = { id: c.id, pinned: true, mergedFrom: null };
          render();
        },
      },
      el("span", { class: "badge kind-" + c.kind }, c.kind),
      " ",
      el("span", { class: "participant" }, address ? Object.values(address)[0] : "?"),
      c.mergedInto
        ? el("span", { class: "merged-into" }, " merged into " + short(c.mergedInto))
        : el("span", { class: "muted" }, ` · ${c.messages.length} message${c.messages.length === 1 ? "" : "s"}`),
      last ? el("div", { class: "preview" }, (last.content && last.content.previewText) || "") : "",
    );
  });
  $("conversations").replaceChildren(...(list.length ? list : [el("li", { class: "empty" }, "No conversation yet.")]));

  const c = conversationById(inboxSelection.id);
  const head = $("conversation-head");
  if (!c) {
    head.replaceChildren();
  } else {
    head.replaceChildren(
      el("div", {}, "Conversation ", el("code", {}, c.id), " with ", el("span", { class: "badge kind-" + c.kind }, c.kind)),
      inboxSelection.mergedFrom
        ? el("div", { class: "merge-notice", "data-from": inboxSelection.mergedFrom },
            `Conversation ${short(inboxSelection.mergedFrom)} was merged into this one.`)
        : "",
      c.mergedInto ? el("div", { class: "merge-notice" }, "Merged into " + short(c.mergedInto) + ": its messages moved there.") : "",
    );
  }
  const messages = $("inbox-messages");
  keepScrolledDown(messages, () => {
    const items = (c ? c.messages : []).map((m) =>
      el(
        "li",
        {
          class: "message " + (m.direction === "PARTICIPANT_TO_BUSINESS" ? "from-participant" : "from-business"),
          "data-id": m.id,
          "data-direction": m.direction,
          "data-visibility": m.visibility,
        },
        el(
          "div",
          { class: "meta" },
          m.direction === "PARTICIPANT_TO_BUSINESS" ? "→ business" : "← participant",
          " · ",
          el("span", { class: "sender" }, senderLabel(m.sender)),
          " · ",
          time(m.createdDate),
          m.visibility === "BUSINESS" ? el("span", { class: "badge business-only" }, "business only") : "",
        ),
        contentNodes(m.content, null),
      ),
    );
    messages.replaceChildren(...items);
  });
  $("business-form").hidden = !c || Boolean(c.mergedInto);
}

$("business-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("business-text");
  const text = input.value.trim();
  if (!text || !inboxSelection.id) return;
  await call("business/send", {
    conversationId: inboxSelection.id,
    text,
    visibility: $("business-visibility").value,
  });
  input.value = "";
});

// ---------------------------------------------------------------------------------------------
// Webhook deliveries

/** "message_sent_to_business" → "Message Sent To Business". */
const eventName = (slug, type) =>
  slug
    ? slug.split(/[_-]/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(" ")
    : type;

function receiverLabel(url) {
  try {
    const u = new URL(url);
    return u.host + u.pathname;
  } catch {
    return url;
  }
}

function renderDeliveries() {
  if (!changed("deliveries", [snap.webhooks, openEvent])) return;
  const events = [...snap.webhooks.events].reverse().map((e) => {
    const deliveries = e.deliveries.map((d) => {
      const state = d.delivered ? "delivered" : d.finished ? "failed" : "pending";
      return el(
        "div",
        { class: "delivery " + state, "data-receiver": d.receiver, "data-state": state },
        el("span", { class: "receiver", title: d.receiver }, receiverLabel(d.receiver)),
        d.attempts.map((a) =>
          el(
            "span",
            {
              class: "attempt " + (a.status === 200 ? "ok" : "bad"),
              "data-status": a.status === null ? "none" : a.status,
              title: a.error || "",
            },
            `${a.status === null ? "✕" : a.status} · ${Math.round(a.latencyMs)} ms`,
          ),
        ),
        d.attempts.length > 1 ? el("span", { class: "retries" }, `${d.attempts.length - 1} retr${d.attempts.length === 2 ? "y" : "ies"}`) : "",
        d.finished ? "" : el("span", { class: "muted" }, "…"),
      );
    });
    return el(
      "li",
      {
        class: "event" + (e.eventId === openEvent ? " selected" : ""),
        "data-event-id": e.eventId,
        "data-event-type": e.eventType,
        tabindex: 0,
        onclick: () => openDetail(e.eventId),
      },
      el("div", { class: "event-head" }, el("strong", {}, eventName(e.slug, e.eventType)), el("span", { class: "muted" }, time(e.eventTime))),
      el(
        "div",
        { class: "ids" },
        "event ", el("code", { title: e.eventId }, short(e.eventId)),
        " · instance ", el("code", { title: e.instanceId }, short(e.instanceId)),
      ),
      deliveries.length ? deliveries : el("div", { class: "muted" }, "no receiver registered"),
    );
  });
  const total = snap.webhooks.total;
  const shown = snap.webhooks.events.length;
  if (total > shown) events.push(el("li", { class: "muted" }, `${total - shown} older events not shown`));
  $("events").replaceChildren(...(events.length ? events : [el("li", { class: "empty" }, "No event yet.")]));
}

async function openDetail(eventId) {
  openEvent = eventId;
  const response = await fetch("/_fake/webhooks/" + encodeURIComponent(eventId));
  if (!response.ok) return showError("cannot open event " + eventId);
  const detail = await response.json();
  if (openEvent !== eventId) return;
  $("event-detail-title").textContent = eventName(detail.decoded.data.slug, detail.eventType) + " " + short(eventId);
  $("event-decoded").textContent = JSON.stringify({ header: detail.jwtHeader, ...detail.decoded }, null, 2);
  $("event-jwt").textContent = detail.jwt;
  $("event-detail").hidden = false;
  render();
}

$("event-close").addEventListener("click", () => {
  openEvent = null;
  $("event-detail").hidden = true;
  render();
});

$("redeliver").addEventListener("click", async () => {
  if (openEvent) await call("webhooks/" + encodeURIComponent(openEvent) + "/redeliver", {});
});

// ---------------------------------------------------------------------------------------------
// Controls

function faultLabel(f) {
  if (f.kind === "status") return f.retryAfter === undefined ? `${f.status}` : `${f.status}, Retry-After: ${f.retryAfter}`;
  if (f.kind === "drop") return "dropped connection";
  if (f.kind === "delay") return `delay ${f.ms} ms`;
  return f.kind;
}

function renderControls() {
  if (!changed("controls", [snap.receivers, snap.pendingFaults, snap.requests])) return;
  $("receivers").replaceChildren(
    ...(snap.receivers.length
      ? snap.receivers.map((url) =>
          el(
            "li",
            { "data-url": url },
            el("code", {}, url),
            " ",
            el("button", { type: "button", class: "remove", title: "Remove", onclick: () => call("receivers/remove", { url }) }, "×"),
          ),
        )
      : [el("li", { class: "empty" }, "None: events are not delivered.")]),
  );
  const pending = snap.pendingFaults;
  $("pending-faults").replaceChildren(
    ...(pending.length
      ? pending.map((f, i) => el("li", { class: "fault", "data-kind": f.kind, "data-status": f.status }, `${i + 1}. ${faultLabel(f)}`))
      : [el("li", { class: "empty" }, "No fault queued.")]),
  );
  $("requests").replaceChildren(
    ...[...snap.requests].reverse().map((r) =>
      el(
        "li",
        { class: "request " + (r.status === 200 ? "ok" : "bad"), "data-status": r.status === null ? "none" : r.status },
        el("span", { class: "status" }, r.status === null ? "dropped" : r.status),
        ` ${r.method} ${r.uri}`,
      ),
    ),
  );
}

$("receiver-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const url = $("receiver-url").value.trim();
  if (!url) return;
  await call("receivers/add", { url });
  $("receiver-url").value = "";
});

$("fault-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const count = Number($("fault-count").value) || 1;
  const kind = $("fault-kind").value;
  const fault =
    kind === "drop" ? { kind: "drop" }
    : kind === "delay" ? { kind: "delay", ms: 3000 }
    : kind === "429ra" ? { kind: "status", status: 429, retryAfter: 2 }
    : { kind: "status", status: Number(kind) };
  await call("faults", { count, ...fault });
});

$("faults-clear").addEventListener("click", () => call("faults/clear", {}));
$("expire-tokens").addEventListener("click", () => call("tokens/expire", {}));

// ---------------------------------------------------------------------------------------------
// The header, and the stream

function renderHeader() {
  if (!changed("header", [snap.instances, snap.fake, instanceId])) return;
  const select = $("instance");
  if (!instanceId) instanceId = snap.instances[0] && snap.instances[0].instanceId;
  select.replaceChildren(
    ...snap.instances.map((i) =>
      el(
        "option",
        { value: i.instanceId, selected: i.instanceId === instanceId },
        `site ${short(i.siteId)} · instance ${short(i.instanceId)}` +
          (i.originInstanceId ? ` · copy of ${short(i.originInstanceId)}` : "") +
          (i.installed === false ? " · app removed" : ""),
      ),
    ),
  );
  select.disabled = snap.instances.length < 2;
  const f = snap.fake;
  const item = (name, value) => [el("dt", {}, name), el("dd", {}, el("code", { title: value }, value))];
  $("fake-info").replaceChildren(...item("base URL", f.baseUrl), ...item("app ID", short(f.appId)));
}

function render() {
  if (!snap) return;
  renderHeader();
  renderVisitor();
  renderInbox();
  renderDeliveries();
  renderControls();
}

function connect() {
  const live = $("live");
  const source = new EventSource("/_fake/stream");
  source.addEventListener("state", (e) => {
    snap = JSON.parse(e.data);
    live.textContent = "live";
    live.dataset.live = "true";
    render();
  });
  source.addEventListener("error", () => {
    live.textContent = "reconnecting…";
    live.dataset.live = "false";
  });
}

connect();
