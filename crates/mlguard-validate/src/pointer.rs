//! JSON Pointer (RFC 6901) building, with attacker-chosen keys clamped.

/// Object keys longer than this many characters are cut (with `…`) in error pointers.
pub(crate) const MAX_KEY_CHARS: usize = 64;

/// Appends `/segment`, escaping `~` and `/` and clamping the length.
pub(crate) fn push_segment(pointer: &mut String, segment: &str) {
    pointer.push('/');
    for (n, c) in segment.chars().enumerate() {
        if n == MAX_KEY_CHARS {
            pointer.push('…');
            break;
        }
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c if c.is_control() => pointer.push('\u{FFFD}'),
            c => pointer.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_clamps() {
        let mut p = String::new();
        push_segment(&mut p, "a/b~c");
        push_segment(&mut p, "0");
        assert_eq!(p, "/a~1b~0c/0");
        let mut long = String::new();
        push_segment(&mut long, &"x".repeat(10_000));
        assert_eq!(long.chars().count(), 1 + MAX_KEY_CHARS + 1);
        let mut ctl = String::new();
        push_segment(&mut ctl, "a\r\nb");
        assert_eq!(ctl, "/a\u{FFFD}\u{FFFD}b");
    }
}
