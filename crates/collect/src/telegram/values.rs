//! Small value readers for t.me markup: abbreviated counters, t.me post links, CSS image URLs,
//! map links, paging hrefs.

/// Reads a counter as t.me prints it: «987», «4.2K», «1.1M», «12 345» → the number.
///
/// Integer arithmetic on the digits, so «4.2K» is exactly 4200 (no float rounding).
pub(crate) fn parse_count(text: &str) -> Option<u64> {
    let compact: String =
        text.chars().filter(|c| !c.is_whitespace() && *c != '\u{A0}' && *c != '\u{202F}' && *c != '\'').collect();
    let (number, multiplier) = match compact.chars().last()? {
        'K' | 'k' => (&compact[..compact.len() - 1], 1_000u64),
        'M' | 'm' => (&compact[..compact.len() - 1], 1_000_000),
        'B' | 'b' => (&compact[..compact.len() - 1], 1_000_000_000),
        _ => (compact.as_str(), 1),
    };
    let (whole, fraction) = match number.split_once('.') {
        Some(parts) => parts,
        // Without a suffix a comma can only be a thousands separator («12,345»).
        None if multiplier == 1 => (number, ""),
        None => number.split_once(',').unwrap_or((number, "")),
    };
    let whole: String = if multiplier == 1 { whole.replace(',', "") } else { whole.to_owned() };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut value = whole.parse::<u64>().ok()?.checked_mul(multiplier)?;
    let mut scale = multiplier;
    for digit in fraction.bytes() {
        scale /= 10;
        if scale == 0 {
            break;
        }
        value = value.checked_add(u64::from(digit - b'0') * scale)?;
    }
    Some(value)
}

/// A channel username as t.me allows it (letters, digits, underscore).
pub(crate) fn is_channel_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Splits `channel/123` (a `data-post` value) into its parts.
pub(crate) fn split_post_ref(value: &str) -> Option<(&str, &str)> {
    let (channel, id) = value.trim().split_once('/')?;
    (is_channel_name(channel) && !id.is_empty() && id.len() <= 19 && id.bytes().all(|b| b.is_ascii_digit()))
        .then_some((channel, id))
}

/// The channel and post id of a t.me post link (`https://t.me/chan/12`, `//t.me/s/chan/12?single`).
pub(crate) fn tme_post_link(href: &str) -> Option<(&str, &str)> {
    let rest = href.trim();
    let rest =
        rest.strip_prefix("https://").or_else(|| rest.strip_prefix("http://")).or_else(|| rest.strip_prefix("//"))?;
    let rest = rest.strip_prefix("www.").unwrap_or(rest);
    let path = rest.strip_prefix("t.me/").or_else(|| rest.strip_prefix("telegram.me/"))?;
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let path = path.strip_prefix("s/").unwrap_or(path);
    split_post_ref(path.trim_end_matches('/'))
}

/// The URL inside `background-image:url('…')` of a style attribute.
pub(crate) fn style_image_url(style: &str) -> Option<String> {
    let start = style.find("url(")? + 4;
    let rest = &style[start..];
    let end = rest.find(')')?;
    let url = rest[..end].trim().trim_matches(|c| c == '\'' || c == '"').trim();
    if url.is_empty() {
        return None;
    }
    // t.me writes protocol-relative URLs; analysts want a clickable one.
    Some(if url.starts_with("//") { format!("https:{url}") } else { url.to_owned() })
}

/// Latitude and longitude from a map link's `q=lat,lon` (what t.me puts on a location).
pub(crate) fn map_link_coordinates(href: &str) -> Option<(f64, f64)> {
    let query = href.split_once('?')?.1;
    let value = query.split('&').find_map(|pair| pair.strip_prefix("q="))?;
    let value = value.replace("%2C", ",").replace("%2c", ",");
    let (lat, lon) = value.split_once(',')?;
    let (lat, lon) = (lat.trim().parse::<f64>().ok()?, lon.trim().parse::<f64>().ok()?);
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
}

/// The numeric value of query parameter `name` in a paging href (`/s/chan?before=140`).
pub(crate) fn query_id(href: &str, name: &str) -> Option<u64> {
    let query = href.split_once('?')?.1;
    query.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_as_tme_prints_them() {
        for (text, value) in [
            ("987", 987),
            ("4.2K", 4_200),
            ("1.1M", 1_100_000),
            ("12.35K", 12_350),
            ("10.7M", 10_700_000),
            ("1 234", 1_234),
            ("12,345", 12_345),
            ("3K", 3_000),
            ("2.5B", 2_500_000_000),
            (" 42 ", 42),
        ] {
            assert_eq!(parse_count(text), Some(value), "{text}");
        }
        for bad in ["", "K", "n/a", "1.2.3K", "-5", "1e9", "99999999999999999999M"] {
            assert_eq!(parse_count(bad), None, "{bad}");
        }
    }

    #[test]
    fn post_links() {
        assert_eq!(tme_post_link("https://t.me/Penza_News/1042"), Some(("Penza_News", "1042")));
        assert_eq!(tme_post_link("//t.me/s/chan/7?single"), Some(("chan", "7")));
        assert_eq!(tme_post_link("https://t.me/chan"), None);
        assert_eq!(tme_post_link("https://example.com/chan/1"), None);
        // Private-channel links (`/c/<internal id>/<post>`) name no public channel.
        assert_eq!(tme_post_link("https://t.me/c/12/34"), None);
    }

    #[test]
    fn style_and_map_values() {
        assert_eq!(
            style_image_url("width:800px;background-image:url('//cdn4.telesco.pe/file/a.jpg')").as_deref(),
            Some("https://cdn4.telesco.pe/file/a.jpg")
        );
        assert_eq!(map_link_coordinates("https://maps.google.com/maps?q=53.195,45.0183&ll=1"), Some((53.195, 45.0183)));
        assert_eq!(query_id("/s/chan?before=140", "before"), Some(140));
        assert_eq!(query_id("/s/chan?after=7&x=1", "before"), None);
    }
}
