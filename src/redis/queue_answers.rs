//! What [`RedisQueue`](super::RedisQueue)'s scripts and commands answer, read back: a start's
//! verdict, stream entries flattened by a script, dead letters; and this process's clock in ms.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::queue::{DeadLetter, Start, StoredEntry};

/// A start script's answer for an entry.
pub(super) fn started(answer: i64) -> Start {
    match answer {
        0 => Start::Wait,
        -2 => Start::Dead,
        n if n > 0 => Start::Go(u32::try_from(n).unwrap_or(u32::MAX)),
        _ => Start::Gone,
    }
}

/// Now, by this process's clock, in ms since the Unix epoch (a stream ID's unit).
pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Entries flattened by a script: ID, event ID, lane, JSON, trace.
pub(super) fn entries(flat: Vec<String>) -> Vec<StoredEntry> {
    let mut out = Vec::with_capacity(flat.len() / 5);
    let mut fields = flat.into_iter();
    while let (Some(id), Some(event_id), Some(lane), Some(json), Some(trace)) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) {
        out.push(StoredEntry {
            id,
            event_id,
            lane: Some(lane).filter(|lane| !lane.is_empty()),
            json,
            trace: Some(trace).filter(|trace| !trace.is_empty()),
        });
    }
    out
}

/// The value of `name` in a stream entry's fields.
pub(super) fn field<'a>(fields: &'a [String], name: &str) -> &'a str {
    fields
        .chunks_exact(2)
        .find(|pair| pair[0] == name)
        .map_or("", |pair| pair[1].as_str())
}

/// A dead letter from its stream entry.
pub(super) fn letter((id, fields): (String, Vec<String>)) -> DeadLetter {
    DeadLetter {
        id,
        entry_id: field(&fields, "entry").to_owned(),
        event_id: field(&fields, "id").to_owned(),
        lane: Some(field(&fields, "lane").to_owned()).filter(|l| !l.is_empty()),
        deliveries: field(&fields, "deliveries").parse().unwrap_or(0),
        error: field(&fields, "error").to_owned(),
        json: field(&fields, "event").to_owned(),
    }
}
