//! Property tests for the tag parser: it never panics, normalising is idempotent, and
//! scanner framing around a real tag never changes which tag it is.

use proptest::prelude::*;
use tagtally::tag::TagParser;

fn parser() -> impl Strategy<Value = TagParser> {
    (any::<bool>(), "[#!*~a-z]{0,3}", "[#!*~a-z]{0,3}").prop_map(|(lenient, prefix, suffix)| {
        TagParser {
            lenient,
            prefix,
            suffix,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_on_any_bytes(p in parser(), raw in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = p.parse(&raw);
    }

    #[test]
    fn normalise_is_idempotent(p in parser(), text in "\\PC{0,60}|[\\]a-zA-Z0-9 \r\n\t#!*~]{0,40}") {
        let once = p.normalise(&text);
        prop_assert_eq!(p.normalise(&once), once);
    }

    #[test]
    fn a_parsed_tag_parses_again_to_itself(p in parser(), raw in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(tag) = p.parse(&raw) {
            prop_assert_eq!(p.parse(tag.as_str().as_bytes()).unwrap(), tag);
        }
    }

    #[test]
    fn framing_around_a_tag_is_stripped(
        hex in "[0-9A-F]{21}",
        aim in prop::sample::select(vec!["", "]C0", "]c1", "]Q1", "]d2"]),
        lower in any::<bool>(),
        lead in "[ \t]{0,3}",
        trail in prop::sample::select(vec!["", "\r", "\n", "\r\n", "\t", " \r\n"]),
    ) {
        let tag = format!("1A4{hex}");
        let shown = if lower { tag.to_lowercase() } else { tag.clone() };
        let raw = format!("{lead}{aim}{shown}{trail}");
        let got = TagParser::default().parse(raw.as_bytes());
        prop_assert_eq!(got.map(|t| t.as_str().to_string()), Ok(tag));
    }
}
