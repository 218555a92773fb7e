//! The OpenAPI 3.1 document served at `/openapi.json`, written by hand to match
//! [`super::ROUTES`] (a test checks every route is documented and nothing else is).

use serde_json::{Value, json};

use super::api::{BODY_LIMIT, FEED_LIMIT, MAX_PUSH_EVENTS};

fn error_responses(codes: &[&str]) -> Value {
    let mut m = serde_json::Map::new();
    for c in codes {
        let what = match *c {
            "400" => "malformed request (the message says what is wrong)",
            "401" => "missing or unknown device token",
            "403" => {
                "revoked device, a device not joined, or another device's events (an event whose person may not do it is never refused: it is kept and held, see `held`)"
            }
            "404" => "no such order on the hub",
            "409" => "an event already received with different contents (logged)",
            "413" => "body or push too large",
            "422" => {
                "an event refers to an attachment the push did not carry (`missing_attachment`), an attachment whose bytes do not match its SHA-256 (`bad_attachment`), or a device pushed a hold, which only the hub records (`hub_only`, logged)"
            }
            "503" => "the hub's database is busy or its disk full; nothing stored, retry",
            _ => "error",
        };
        m.insert(
            c.to_string(),
            json!({"description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
        );
    }
    Value::Object(m)
}

fn ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

fn order_param() -> Value {
    json!({"name": "number", "in": "path", "required": true,
           "description": "order number or LeafLink short id", "schema": {"type": "string"}})
}

/// The document.
pub fn document() -> Value {
    let auth = json!([{"device": []}]);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "tagtally hub",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!(
                "Orders, devices and the merge of their events. Every call but /health and \
                 /openapi.json needs `Authorization: Bearer TOKEN` (from `tagtally hub \
                 enroll-device NAME`). Bodies over {} MiB are refused with 413.",
                BODY_LIMIT >> 20)
        },
        "components": {
            "securitySchemes": {"device": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "message"], "properties": {
                    "error": {"type": "string", "description": "stable word, e.g. altered_replay"},
                    "message": {"type": "string", "description": "what happened and what to do"}}},
                "Event": {"type": "object", "required": ["device", "seq", "at", "order", "kind"],
                    "properties": {
                        "device": {"type": "string"}, "seq": {"type": "integer", "minimum": 1},
                        "at": {"type": "string", "format": "date-time"},
                        "order": {"type": "string"},
                        "person": {"type": "string", "description": "who was signed in on the device"},
                        "kind": {"type": "object", "description":
                            "{kind: scan | load_scan | deliver_scan, raw, raw_len, tag, verdict} | {kind: short, line, reason} | {kind: undo | remove, tag, reason} | {kind: load_confirm, load, orders, driver, vehicle, tags, manifest_pdf} | {kind: decision, tag, decision: accepted | rejected, reason, note} | {kind: deliver_finish, receiver, signature} | {kind: ruling, event: {device, seq}, accept, reason} (a supervisor's word on a held event) | {kind: hold, event: {device, seq}, why} (recorded by the hub only; a pushed one is refused)"}}},
                "Attachment": {"type": "object", "required": ["sha256", "mime", "base64"], "properties": {
                    "sha256": {"type": "string", "description": "hex SHA-256 of the bytes"},
                    "mime": {"type": "string"}, "base64": {"type": "string"}}},
                "MergedOrder": {"type": "object", "properties": {
                    "order": {"type": "string"}, "picked": {"type": "integer"},
                    "total": {"type": "integer"}, "complete": {"type": "boolean"},
                    "lines": {"type": "array", "items": {"type": "object"}},
                    "exceptions": {"type": "array", "items": {"type": "object", "properties": {
                        "device": {"type": "string"}, "seq": {"type": "integer"},
                        "tag": {"type": "string", "description": "absent for an exception about no package"}, "line": {"type": ["string", "null"]},
                        "exception": {"enum": ["already_picked", "ineligible", "not_allocated", "second_load", "after_delivery", "closed_order", "held"]},
                        "event_kind": {"type": "string", "description": "held: the kind of the held event"},
                        "why": {"type": "string", "description": "held: why the hub holds it"},
                        "message": {"type": "string"}}}},
                    "events": {"type": "integer"}}},
                "Feed": {"type": "object", "properties": {
                    "merged": {"$ref": "#/components/schemas/MergedOrder"},
                    "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                    "cursor": {"type": "integer"}, "more": {"type": "boolean"},
                    "attachments": {"type": "array", "description": "the files the events refer to",
                        "items": {"$ref": "#/components/schemas/Attachment"}}}}
            }
        },
        "paths": {
            "/health": {"get": {"summary": "liveness; with Metrc polling, where the pulls stand (last_ok, behind_seconds, last_error)", "responses": {"200": ok("up", json!({"type": "object", "properties": {
                "ok": {"type": "boolean"},
                "metrc": {"type": "object", "properties": {
                    "last_ok": {"type": ["string", "null"]}, "behind_seconds": {"type": ["integer", "null"]},
                    "last_error": {"type": ["string", "null"]}}}}}))}}},
            "/openapi.json": {"get": {"summary": "this document", "responses": {"200": ok("OpenAPI 3.1", json!({"type": "object"}))}}},
            "/devices/join": {"post": {
                "summary": "bind the token's device to the id its events carry",
                "security": auth,
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["device_id"], "properties": {"device_id": {"type": "string"}}}}}},
                "responses": with(json!({"200": ok("joined", json!({"type": "object", "properties": {
                    "name": {"type": "string"}, "device_id": {"type": "string"},
                    "last_seq": {"type": "integer", "description": "the last sequence number the hub holds of this device"},
                    "hub": {"type": "string", "description": "the hub's instance id"}}}))}),
                    error_responses(&["400", "401", "403", "409"]))
            }},
            "/sync/snapshot": {"get": {
                "summary": "open orders with their allocation, and package facts changed since a cursor",
                "security": auth,
                "parameters": [{"name": "packages_since", "in": "query", "required": false, "schema": {"type": "string"}}],
                "responses": with(json!({"200": ok("snapshot", json!({"type": "object", "properties": {
                    "orders": {"type": "array", "items": {"type": "object", "properties": {
                        "order": {"type": "object"}, "last_event": {"type": "integer"}}}},
                    "packages": {"type": "array", "items": {"type": "object"}},
                    "packages_cursor": {"type": "string"},
                    "hub": {"type": "string", "description": "the hub's instance id"},
                    "your_last_seq": {"type": ["integer", "null"], "description": "the last sequence number the hub holds of the asking device"},
                    "licenses": {"type": "object", "description": "the license register's facts for the open orders' buyer licenses (imported_at, entries of number, status, active, expires); absent while the hub has no register"},
                    "people": {"type": "array", "description": "the people who sign in on devices (coordinators work at the desk only and are not sent)", "items": {"type": "object", "properties": {
                        "name": {"type": "string"}, "role": {"enum": ["picker", "loader", "driver", "supervisor"]},
                        "pin_hash": {"type": "string", "description": "salted, stretched; never the PIN"},
                        "disabled": {"type": "boolean"}}}}}}))}),
                    error_responses(&["401", "403"]))
            }},
            "/orders": {"get": {
                "summary": "open orders", "security": auth,
                "responses": with(json!({"200": ok("open orders", json!({"type": "array", "items": {"type": "object"}}))}),
                    error_responses(&["401", "403"]))
            }},
            "/orders/{number}": {"get": {
                "summary": "an order's merged progress and exceptions", "security": auth,
                "parameters": [order_param()],
                "responses": with(json!({"200": ok("merged", json!({"$ref": "#/components/schemas/MergedOrder"}))}),
                    error_responses(&["401", "403", "404"]))
            }},
            "/orders/{number}/events": {
                "get": {
                    "summary": format!("other devices' picks, shorts and undos after a cursor (at most {FEED_LIMIT}), with the merged state"),
                    "security": auth,
                    "parameters": [order_param(), {"name": "since", "in": "query", "required": false, "schema": {"type": "integer"}},
                        {"name": "mine", "in": "query", "required": false, "schema": {"type": "boolean"},
                         "description": "also the asking device's own events (a reinstalled device restoring them)"}],
                    "responses": with(json!({"200": ok("feed", json!({"$ref": "#/components/schemas/Feed"}))}),
                        error_responses(&["401", "403", "404"]))
                },
                "post": {
                    "summary": format!("push this device's events of the order, oldest first (at most {MAX_PUSH_EVENTS}); idempotent by (device, seq)"),
                    "security": auth,
                    "parameters": [order_param()],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["events"], "properties": {
                            "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                            "since": {"type": "integer", "description": "last hub event id held"},
                            "attachments": {"type": "array", "description": "the files the events refer to",
                                "items": {"$ref": "#/components/schemas/Attachment"}}}}}}},
                    "responses": with(json!({"200": ok("stored durably before this answer", json!({
                        "type": "object", "properties": {
                            "accepted": {"type": "integer"}, "duplicates": {"type": "integer"},
                            "acked": {"type": "array", "items": {"type": "integer"}},
                            "held": {"type": "array", "description": "events of this push kept but held for a supervisor's ruling (acknowledged too)",
                                "items": {"type": "object", "properties": {"seq": {"type": "integer"}, "why": {"type": "string"}}}},
                            "feed": {"$ref": "#/components/schemas/Feed"}}}))}),
                        error_responses(&["400", "401", "403", "404", "409", "413", "422", "503"]))
                }
            },
            "/orders/{number}/outcome": {"get": {
                "summary": "what came of the order: stage (picking, picked, loaded, delivered), load, delivery counts, removed packages, returns (rejected packages coming back to the vault) and Metrc's receipt beside the driver's",
                "security": auth,
                "parameters": [order_param()],
                "responses": with(json!({"200": ok("outcome", json!({"type": "object", "properties": {
                    "order": {"type": "string"}, "buyer": {"type": "string"},
                    "stage": {"enum": ["picking", "picked", "loaded", "delivered"]},
                    "picked": {"type": "integer"}, "total": {"type": "integer"},
                    "load": {"type": ["object", "null"]}, "removed": {"type": "array"},
                    "delivery": {"type": ["object", "null"]}, "returns": {"type": "array"},
                    "metrc": receipt_schema()}}))}),
                    error_responses(&["401", "403", "404"]))
            }},
            "/orders/{number}/manifest": {"get": {
                "summary": "the confirmed load's Metrc transfer template (body of POST /transfers/v2/templates/outgoing) or its manifest PDF; every order of the load is a destination",
                "security": auth,
                "parameters": [order_param(), {"name": "format", "in": "query", "required": false,
                    "schema": {"enum": ["metrc-template", "pdf"], "default": "metrc-template"}}],
                "responses": with(json!({"200": {"description": "template JSON or PDF", "content": {
                    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                    "application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
                    "409": {"description": "not loaded yet (`not_ready`: the message gives missing and extra), or no shipper license configured",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}),
                    error_responses(&["400", "401", "403", "404"]))
            }},
            "/orders/{number}/report": {"get": {
                "summary": "the finished delivery's report for the coordinator: accepted, rejected with reasons (returns), not scanned, receipt deadline; JSON or PDF with the signature",
                "security": auth,
                "parameters": [order_param(), {"name": "format", "in": "query", "required": false,
                    "schema": {"enum": ["json", "pdf"], "default": "json"}}],
                "responses": with(json!({"200": {"description": "report JSON or PDF", "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
                    "409": {"description": "not delivered yet (`not_ready`)",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}),
                    error_responses(&["400", "401", "403", "404"]))
            }},
            "/orders/{number}/live": {"get": {
                "summary": "server-sent events: `progress` with a MergedOrder now and after every change",
                "security": auth,
                "parameters": [order_param()],
                "responses": with(json!({"200": {"description": "event stream",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}}}}),
                    error_responses(&["401", "403", "404"]))
            }}
        }
    })
}

/// `metrc` of an order's outcome.
fn receipt_schema() -> Value {
    json!({"type": "object", "description": "once the load is confirmed: Metrc's receipt as the hub last read it (null until one is read), each package with the driver's word and Metrc's, and the issues where they disagree or Metrc is late",
        "properties": {"order": {"type": "string"}, "metrc": {"type": ["object", "null"]},
            "packages": {"type": "array"}, "issues": {"type": "array"}}})
}

#[cfg(test)]
mod tests {
    use super::super::ROUTES;
    use super::*;

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        let mut documented = vec![];
        for (path, ops) in paths {
            for method in ops.as_object().unwrap().keys() {
                documented.push((method.to_uppercase(), path.clone()));
            }
        }
        let mut routes: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        routes.sort();
        documented.sort();
        assert_eq!(routes, documented);
    }
}
