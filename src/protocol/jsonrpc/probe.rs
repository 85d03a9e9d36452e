//! The few fields of a JSON-RPC `result` the client reads: `isError`, the
//! negotiated version and server, and the names a listing (`tools/list`,
//! `resources/list`, ...) holds with its next page cursor. Everything else is
//! skipped without building a tree. The listing fields are lenient: a server
//! that puts something odd there loses the listing, not the reply.

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;

#[derive(Debug, Default, Deserialize)]
pub struct ServerInfo {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
}

/// The few fields of a `result` the client looks at.
#[derive(Debug, Default, Deserialize)]
pub struct ResultProbe {
    #[serde(rename = "isError", default)]
    pub is_error: Option<bool>,
    #[serde(rename = "protocolVersion", default)]
    pub protocol_version: Option<String>,
    #[serde(rename = "serverInfo", default)]
    pub server_info: Option<ServerInfo>,
    /// `server/discover` (2026-07-28 and later).
    #[serde(rename = "supportedVersions", default)]
    pub supported_versions: Option<Vec<String>>,
    #[serde(rename = "_meta", default)]
    pub meta: Option<MetaProbe>,
    /// `tools/list`, `prompts/list`, `resources/list`,
    /// `resources/templates/list`: one entry per listed item.
    #[serde(default)]
    pub tools: Listing,
    #[serde(default)]
    pub prompts: Listing,
    #[serde(default)]
    pub resources: Listing,
    #[serde(rename = "resourceTemplates", default)]
    pub resource_templates: Listing,
    #[serde(rename = "nextCursor", default)]
    pub next_cursor: LenientString,
    /// A tool error's text (its first text content), filled in by the
    /// classifier only when `isError` is true.
    #[serde(skip)]
    pub error_text: Option<String>,
}

/// The `_meta` fields the client reads.
#[derive(Debug, Default, Deserialize)]
pub struct MetaProbe {
    #[serde(rename = "io.modelcontextprotocol/serverInfo", default)]
    pub server_info: Option<ServerInfo>,
}

/// One listed tool, prompt, resource or resource template: the strings that
/// name it (whichever it has).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Listed {
    pub name: Option<String>,
    pub uri: Option<String>,
    pub uri_template: Option<String>,
}

/// A list of `Listed`, or `None` when the field was absent or not a list.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Listing(pub Option<Vec<Listed>>);

/// A string, or `None` when the value was absent or anything else.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LenientString(pub Option<String>);

/// Accepts any JSON value, keeping what `on_str` makes of a string and
/// consuming anything else.
struct Lenient<T> {
    on_str: fn(&str) -> Option<T>,
}

impl<T> Lenient<T> {
    fn strings(on_str: fn(&str) -> Option<T>) -> Self {
        Lenient { on_str }
    }
}

macro_rules! ignore_scalars {
    ($($method:ident: $t:ty),*) => {
        $(fn $method<E: de::Error>(self, _: $t) -> Result<Self::Value, E> {
            Ok(None)
        })*
    };
}

impl<'de, T> Visitor<'de> for Lenient<T> {
    type Value = Option<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<T>, E> {
        Ok((self.on_str)(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }
    ignore_scalars!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64);
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<T>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

impl<'de> Deserialize<'de> for LenientString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Lenient::strings(|s| Some(s.to_string())))
            .map(LenientString)
    }
}

/// One listing entry: a map whose `name`, `uri` and `uriTemplate` strings
/// are kept; anything that is not a map is `None`.
struct ListedVisitor;

impl<'de> Visitor<'de> for ListedVisitor {
    type Value = Option<Listed>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a listed item")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Listed>, A::Error> {
        let mut item = Listed::default();
        while let Some(key) = map.next_key::<String>()? {
            let slot = match key.as_str() {
                "name" => &mut item.name,
                "uri" => &mut item.uri,
                "uriTemplate" => &mut item.uri_template,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = map.next_value::<LenientString>()?.0;
        }
        Ok(Some(item))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Option<Listed>, A::Error> {
        Lenient::<Listed>::strings(|_| None).visit_seq(seq)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Option<Listed>, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<Listed>, E> {
        Ok(None)
    }
    ignore_scalars!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64);
}

struct MaybeListed(Option<Listed>);

impl<'de> Deserialize<'de> for MaybeListed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListedVisitor).map(MaybeListed)
    }
}

struct ListingVisitor;

impl<'de> Visitor<'de> for ListingVisitor {
    type Value = Listing;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Listing, A::Error> {
        let mut items = Vec::new();
        while let Some(MaybeListed(item)) = seq.next_element()? {
            items.extend(item);
        }
        Ok(Listing(Some(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Listing, A::Error> {
        Lenient::<()>::strings(|_| None).visit_map(map)?;
        Ok(Listing(None))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Listing, E> {
        Ok(Listing(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Listing, E> {
        Ok(Listing(None))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Listing, E> {
        Ok(Listing(None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Listing, E> {
        Ok(Listing(None))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Listing, E> {
        Ok(Listing(None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Listing, E> {
        Ok(Listing(None))
    }
}

impl<'de> Deserialize<'de> for Listing {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListingVisitor)
    }
}

/// The first text content of a tool result, e.g. the message of an
/// `isError` reply; `None` when it has none or the shape is odd.
pub fn first_text(raw: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Reply {
        result: Contents,
    }
    #[derive(Deserialize)]
    struct Contents {
        #[serde(default)]
        content: Vec<Content>,
    }
    #[derive(Deserialize)]
    struct Content {
        #[serde(default)]
        text: LenientString,
    }
    let reply: Reply = serde_json::from_str(raw).ok()?;
    reply.result.content.into_iter().find_map(|c| c.text.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(json: &str) -> ResultProbe {
        serde_json::from_str(json).expect("a probe")
    }

    #[test]
    fn listings_keep_names_and_the_cursor() {
        let p = probe(
            r#"{"tools":[{"name":"echo","inputSchema":{"type":"object"}},{"name":"add"}],
                "nextCursor":"page2"}"#,
        );
        let names: Vec<_> = p
            .tools
            .0
            .expect("a list")
            .into_iter()
            .filter_map(|t| t.name)
            .collect();
        assert_eq!(names, ["echo", "add"]);
        assert_eq!(p.next_cursor.0.as_deref(), Some("page2"));
        let p = probe(r#"{"resourceTemplates":[{"uriTemplate":"x://{id}","name":"x"}]}"#);
        let t = &p.resource_templates.0.expect("a list")[0];
        assert_eq!(t.uri_template.as_deref(), Some("x://{id}"));
        assert_eq!(p.tools, Listing(None));
    }

    #[test]
    fn odd_listing_shapes_lose_the_listing_not_the_reply() {
        let p = probe(
            r#"{"tools":{"a":1},"prompts":[1,"x",null,[2],{"name":7}],"nextCursor":5,"isError":true}"#,
        );
        assert_eq!(p.tools, Listing(None));
        assert_eq!(p.prompts, Listing(Some(vec![Listed::default()])));
        assert_eq!(p.next_cursor, LenientString(None));
        assert_eq!(p.is_error, Some(true));
    }

    #[test]
    fn first_text_reads_a_tool_error_message() {
        let raw = r#"{"id":1,"result":{"content":[{"type":"image"},{"type":"text","text":"boom"}],"isError":true}}"#;
        assert_eq!(first_text(raw).as_deref(), Some("boom"));
        assert_eq!(first_text(r#"{"id":1,"result":{"content":5}}"#), None);
    }
}
