//! A cheap structural pre-scan of a JSON body: nesting depth and array lengths.
//!
//! The scan runs before any deserialization, in one pass, with memory bounded by the depth
//! limit (one small frame per open container), and without recursion. So a body of 100 000
//! `[` is refused at the 33rd byte instead of driving a recursive parser, and a 10 000-item
//! array is refused before a `Vec` of that size is built.
//!
//! It is not a validator: it only tracks strings (to ignore brackets inside them) and
//! brackets. Whatever it lets through is parsed by serde_json, which reports syntax errors.

use crate::pointer::push_segment;

/// What the scan refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScanError {
    /// Arrays and objects were nested deeper than `limit`.
    TooDeep {
        /// The configured bound.
        limit: usize,
    },
    /// An array had more than `limit` items.
    TooManyItems {
        /// JSON Pointer (RFC 6901) to the array; object keys clamped to 64 characters.
        pointer: String,
        /// The configured bound.
        limit: usize,
    },
}

#[derive(Debug, Clone, Copy)]
enum Frame {
    /// An array: number of commas seen at this level.
    Array { commas: usize },
    /// An object: byte range of the last key (quotes included), and whether a key comes next.
    Object {
        key: Option<(usize, usize)>,
        expect_key: bool,
    },
}

/// Scans `input` and refuses nesting deeper than `max_depth` or arrays longer than
/// `max_array_len`. Never panics, whatever the bytes.
///
/// ```
/// use mlguard_validate::scan::{scan, ScanError};
///
/// assert_eq!(scan(br#"{"a": [1, 2, "]]]"]}"#, 2, 3), Ok(()));
/// assert_eq!(scan(b"[[[]]]", 2, 3), Err(ScanError::TooDeep { limit: 2 }));
/// assert_eq!(
///     scan(br#"{"rows": [[1], [1, 2, 3, 4]]}"#, 8, 3),
///     Err(ScanError::TooManyItems { pointer: "/rows/1".into(), limit: 3 })
/// );
/// ```
///
/// # Errors
///
/// The first limit exceeded, in input order.
pub fn scan(input: &[u8], max_depth: usize, max_array_len: usize) -> Result<(), ScanError> {
    let mut stack = Frames::new();
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'"' => {
                let start = i;
                i = skip_string(input, i + 1);
                if let Some(Frame::Object { key, expect_key }) = stack.last_mut()
                    && *expect_key
                {
                    *key = Some((start, i.min(input.len())));
                    *expect_key = false;
                }
            }
            open @ (b'[' | b'{') => {
                if stack.len() >= max_depth {
                    return Err(ScanError::TooDeep { limit: max_depth });
                }
                stack.push(if open == b'[' {
                    Frame::Array { commas: 0 }
                } else {
                    Frame::Object {
                        key: None,
                        expect_key: true,
                    }
                });
            }
            b']' | b'}' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Array { commas }) => {
                    *commas += 1;
                    // After n commas at least n + 1 items have started.
                    if *commas >= max_array_len {
                        let pointer = pointer_to_top(input, stack.as_slice());
                        return Err(ScanError::TooManyItems {
                            pointer,
                            limit: max_array_len,
                        });
                    }
                }
                Some(Frame::Object { expect_key, .. }) => *expect_key = true,
                None => {}
            },
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Frames kept on the stack up to this depth (every usual body), so a scan allocates nothing.
const INLINE_FRAMES: usize = 16;

/// The open containers: on the stack up to [`INLINE_FRAMES`], then all of them in a `Vec`
/// (bounded by the depth limit, as before).
struct Frames {
    inline: [Frame; INLINE_FRAMES],
    len: usize,
    spilled: Option<Vec<Frame>>,
}

impl Frames {
    fn new() -> Self {
        Self {
            inline: [Frame::Array { commas: 0 }; INLINE_FRAMES],
            len: 0,
            spilled: None,
        }
    }

    fn len(&self) -> usize {
        self.spilled.as_ref().map_or(self.len, Vec::len)
    }

    fn push(&mut self, frame: Frame) {
        if let Some(spilled) = &mut self.spilled {
            spilled.push(frame);
        } else if self.len < INLINE_FRAMES {
            self.inline[self.len] = frame;
            self.len += 1;
        } else {
            let mut spilled = Vec::with_capacity(2 * INLINE_FRAMES);
            spilled.extend_from_slice(&self.inline);
            spilled.push(frame);
            self.spilled = Some(spilled);
        }
    }

    fn pop(&mut self) {
        if let Some(spilled) = &mut self.spilled {
            spilled.pop();
        } else {
            self.len = self.len.saturating_sub(1);
        }
    }

    fn last_mut(&mut self) -> Option<&mut Frame> {
        match &mut self.spilled {
            Some(spilled) => spilled.last_mut(),
            None => self.inline[..self.len].last_mut(),
        }
    }

    fn as_slice(&self) -> &[Frame] {
        match &self.spilled {
            Some(spilled) => spilled,
            None => &self.inline[..self.len],
        }
    }
}

/// The index of the closing quote of a string whose body starts at `i`, or `input.len()`
/// when it never closes.
fn skip_string(input: &[u8], mut i: usize) -> usize {
    while i < input.len() {
        match input[i] {
            b'\\' => i += 2,
            b'"' => return i,
            _ => i += 1,
        }
    }
    input.len()
}

/// JSON Pointer to the innermost open container, from the positions of its ancestors.
fn pointer_to_top(input: &[u8], stack: &[Frame]) -> String {
    let mut pointer = String::new();
    let ancestors = stack.len().saturating_sub(1);
    for frame in stack.iter().take(ancestors) {
        match frame {
            Frame::Array { commas } => push_segment(&mut pointer, &commas.to_string()),
            Frame::Object {
                key: Some((start, end)),
                ..
            } => {
                let raw = input.get(*start..=*end).unwrap_or_default();
                let key = serde_json::from_slice::<String>(raw)
                    .unwrap_or_else(|_| String::from_utf8_lossy(raw).trim_matches('"').to_owned());
                push_segment(&mut pointer, &key);
            }
            Frame::Object { key: None, .. } => push_segment(&mut pointer, ""),
        }
    }
    pointer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_arrays_and_objects() {
        assert_eq!(scan(br#"{"a":{"b":[1]}}"#, 3, 10), Ok(()));
        assert_eq!(
            scan(br#"{"a":{"b":[1]}}"#, 2, 10),
            Err(ScanError::TooDeep { limit: 2 })
        );
    }

    #[test]
    fn brackets_in_strings_and_escapes_are_ignored() {
        assert_eq!(scan(br#"["[[[[", "\"[[[[", "\\"]"#, 1, 10), Ok(()));
    }

    #[test]
    fn array_length_is_exact_at_the_bound() {
        assert_eq!(scan(b"[1,2,3]", 4, 3), Ok(()));
        assert!(scan(b"[1,2,3,4]", 4, 3).is_err());
        assert_eq!(scan(b"[]", 4, 1), Ok(()));
        assert_eq!(scan(b"[1]", 4, 1), Ok(()));
        // Objects are not arrays: commas between members do not count.
        assert_eq!(scan(br#"{"a":1,"b":2,"c":3}"#, 4, 1), Ok(()));
    }

    #[test]
    fn pointer_names_escaped_keys_and_indexes() {
        let err = scan(br#"{"x":1,"a/b~":[0,{"k":[1,2,3]}]}"#, 8, 2).unwrap_err();
        // The outer array has 2 items (ok); the inner one has 3.
        assert_eq!(
            err,
            ScanError::TooManyItems {
                pointer: "/a~1b~0/1/k".into(),
                limit: 2
            }
        );
    }

    #[test]
    fn depth_and_pointers_past_the_inline_frames() {
        // Deeper than the frames kept on the stack: the same bounds and pointers.
        let depth = INLINE_FRAMES + 4;
        let mut nested = "[".repeat(depth);
        nested.push_str(&"]".repeat(depth));
        assert_eq!(scan(nested.as_bytes(), depth, 10), Ok(()));
        assert_eq!(
            scan(nested.as_bytes(), depth - 1, 10),
            Err(ScanError::TooDeep { limit: depth - 1 })
        );
        let mut long = "[0,".repeat(depth - 1);
        long.push_str("[1,2,3]");
        long.push_str(&"]".repeat(depth - 1));
        let pointer = "/1".repeat(depth - 1);
        assert_eq!(
            scan(long.as_bytes(), depth, 2),
            Err(ScanError::TooManyItems { pointer, limit: 2 })
        );
        // Closing back below the inline frames and opening again keeps counting.
        let mut reopen = nested.clone();
        reopen.push_str("[[1,2,3]]");
        let doc = format!("[{nested},{reopen}]");
        assert_eq!(
            scan(doc.as_bytes(), depth + 1, 2),
            Err(ScanError::TooManyItems {
                pointer: "/1/0".into(),
                limit: 2
            })
        );
    }

    #[test]
    fn very_deep_input_is_refused_without_growing_the_stack() {
        let deep = vec![b'['; 100_000];
        assert_eq!(scan(&deep, 32, 10), Err(ScanError::TooDeep { limit: 32 }));
    }

    #[test]
    fn unbalanced_and_truncated_input_does_not_panic() {
        for input in [
            &b"]]]}}"[..],
            b"[\"abc",
            b"{\"a",
            b"\\",
            b"\"\\",
            b"{,,,}",
            b"[,,,,",
        ] {
            let _ = scan(input, 4, 2);
        }
    }
}
