//! Fitting a table's columns to a width, for every table that must fit a
//! terminal: columns are left out whole (a number is never cut), in an
//! order the table gives, until the rest fit; then one column (the name)
//! may take what room is left or give way, ending in `…`. The `stylelab
//! runs` table ([`super::export`]) and the dashboard's Runs view both fit
//! their columns here.

/// Which columns of a table fit in a width, and how wide they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitted {
    /// Indices of the columns kept, in table order.
    pub kept: Vec<usize>,
    /// Indices of the columns left out, in the order they went.
    pub left_out: Vec<usize>,
    /// Every column's width, kept or not.
    widths: Vec<usize>,
    /// Cells between two columns.
    gap: usize,
    /// The width to fit in; None for no limit.
    room: Option<usize>,
}

/// Leaves columns out whole, in `order` (indices into `widths`), until the
/// kept ones, `gap` cells apart, fit in `room`, or until only `min_kept`
/// are left; then takes back, last gone first, those that fit in the room
/// a wider one left. Columns not in `order` always stay; a `room` of None keeps
/// them all.
pub fn fit_columns(widths: &[usize], gap: usize, room: Option<usize>, order: &[usize], min_kept: usize) -> Fitted {
    let mut fitted = Fitted {
        kept: (0..widths.len()).collect(),
        left_out: Vec::new(),
        widths: widths.to_vec(),
        gap,
        room,
    };
    if let Some(room) = room {
        for &i in order {
            if fitted.width() <= room || fitted.kept.len() <= min_kept {
                break;
            }
            fitted.kept.retain(|&k| k != i);
            fitted.left_out.push(i);
        }
        // Leaving a wide column out may have made room for a narrower one
        // that went before it: the last to go come back first.
        for i in fitted.left_out.clone().into_iter().rev() {
            let gap = if fitted.kept.is_empty() { 0 } else { gap };
            if fitted.width() + gap + widths[i] <= room {
                fitted.left_out.retain(|&k| k != i);
                let at = fitted.kept.partition_point(|&k| k < i);
                fitted.kept.insert(at, i);
            }
        }
    }
    fitted
}

impl Fitted {
    /// The kept columns' total width, the gaps between them included.
    pub fn width(&self) -> usize {
        self.kept.iter().map(|&i| self.widths[i]).sum::<usize>() + self.gap * self.kept.len().saturating_sub(1)
    }

    /// Whether the kept columns fit the room (always, without a limit).
    pub fn fits(&self) -> bool {
        self.room.is_none_or(|room| self.width() <= room)
    }

    /// How wide the kept column `col` may be with the others as they are:
    /// the room less the rest of the table (0 when the rest fill it); its
    /// own width when there is no limit.
    pub fn room_for(&self, col: usize) -> usize {
        let own = self.widths.get(col).copied().unwrap_or(0);
        match self.room {
            None => own,
            Some(room) => room.saturating_sub(self.width().saturating_sub(own)),
        }
    }
}

/// `text` cut to `width` characters, ending in `…` when cut.
pub fn ellipsize(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        text.chars().take(width.saturating_sub(1)).collect::<String>() + "…"
    }
}

/// `values` cut to `width` characters each so that values that differ
/// still read differently: from the end (`layer…`) where that keeps them
/// apart, else from the start (`…weight-p000`), keeping the tail that
/// tells sweep points and stamped folders apart.
pub fn ellipsize_distinct(values: &[String], width: usize) -> Vec<String> {
    let clash = |cut: &[String]| (0..values.len()).any(|i| (0..i).any(|j| values[i] != values[j] && cut[i] == cut[j]));
    let head: Vec<String> = values.iter().map(|v| ellipsize(v, width)).collect();
    if !clash(&head) {
        return head;
    }
    let tail: Vec<String> = values.iter().map(|v| ellipsize_front(v, width)).collect();
    if clash(&tail) { head } else { tail }
}

/// `text` cut to `width` characters from the front, starting with `…`
/// when cut.
pub fn ellipsize_front(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        text.to_string()
    } else {
        "…".to_string() + &text.chars().skip(n - width.saturating_sub(1)).collect::<String>()
    }
}

/// Names with the start they all share taken off, up to and including its
/// last separator (`-`, `_`, `.`, `/`, space), so that a narrow column
/// shows what tells them apart: `sweep-style-weight-p000` and
/// `sweep-style-weight-p001` read `p000` and `p001`. Fewer than two names,
/// or names that share no whole part, come back as they are.
pub fn without_common_start(names: &[String]) -> Vec<String> {
    let Some(first) = names.first() else {
        return Vec::new();
    };
    if names.len() < 2 {
        return names.to_vec();
    }
    let shared = names[1..].iter().fold(first.len(), |n, name| {
        first
            .char_indices()
            .zip(name.chars())
            .find(|((_, a), b)| a != b)
            .map_or(n.min(name.len()).min(first.len()), |((i, _), _)| n.min(i))
    });
    let cut = first[..shared].rfind(['-', '_', '.', '/', ' ']).map_or(0, |i| i + 1);
    // Never take a whole name away.
    if cut == 0 || names.iter().any(|n| n.len() <= cut) {
        return names.to_vec();
    }
    names.iter().map(|n| n[cut..].to_string()).collect()
}

/// `text` in lines of at most `width` characters, broken after a `.`,
/// `_`, `,`, `/` or space where one falls in the line's second half, else
/// at the width (one empty line for no text).
pub fn wrap_at_parts(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut rest: Vec<char> = text.chars().collect();
    let mut lines = Vec::new();
    while rest.len() > width {
        let at = (width / 2..width)
            .rev()
            .find(|&i| matches!(rest[i], '.' | '_' | ',' | '/' | ' '))
            .map_or(width, |i| i + 1);
        lines.push(rest.drain(..at).collect());
    }
    if !rest.is_empty() || lines.is_empty() {
        lines.push(rest.into_iter().collect());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_leave_in_order_until_the_rest_fit() {
        // 4 + 3 + 5 + 2, one apart: 17 in all.
        let widths = [4, 3, 5, 2];
        let all = fit_columns(&widths, 1, None, &[2, 1], 1);
        assert_eq!(
            (all.kept.clone(), all.width(), all.fits()),
            (vec![0, 1, 2, 3], 17, true)
        );
        let fitted = fit_columns(&widths, 1, Some(11), &[2, 1], 1);
        assert_eq!(fitted.kept, vec![0, 1, 3], "column 2 went first, and then it fit");
        assert_eq!(fitted.left_out, vec![2]);
        assert_eq!(fitted.width(), 11);
        assert_eq!(fitted.room_for(0), 4);
        // Too narrow for anything but the columns not in the order.
        let narrow = fit_columns(&widths, 1, Some(3), &[2, 1], 1);
        assert_eq!((narrow.kept.clone(), narrow.left_out.clone()), (vec![0, 3], vec![2, 1]));
        assert!(!narrow.fits());
        assert_eq!(narrow.room_for(0), 0, "the rest take all the room");
        // Never fewer than `min_kept`.
        let kept = fit_columns(&widths, 1, Some(3), &[2, 1, 3], 3);
        assert_eq!(kept.kept, vec![0, 1, 3]);
        // Column 1 went, then column 2 (wider): 1 fits again in what 2 left.
        let back = fit_columns(&widths, 1, Some(11), &[1, 2], 1);
        assert_eq!((back.kept.clone(), back.left_out.clone()), (vec![0, 1, 3], vec![2]));
        assert!(back.fits());
    }

    #[test]
    fn names_cut_keep_what_tells_them_apart() {
        let points: Vec<String> = (0..3).map(|i| format!("sweep-style-weight-p00{i}")).collect();
        assert_eq!(
            ellipsize_distinct(&points, 12),
            ["…weight-p000", "…weight-p001", "…weight-p002"]
        );
        let names = vec!["layers-deep".to_string(), "texture".to_string()];
        assert_eq!(ellipsize_distinct(&names, 6), ["layer…", "textu…"]);
    }

    #[test]
    fn a_shared_start_is_taken_off_whole_parts() {
        let names: Vec<String> = ["sweep-style-weight-p000", "sweep-style-weight-p001"]
            .map(String::from)
            .to_vec();
        assert_eq!(without_common_start(&names), ["p000", "p001"]);
        let apart: Vec<String> = ["layers-deep", "layers-shallow", "texture"].map(String::from).to_vec();
        assert_eq!(without_common_start(&apart), apart, "nothing shared by all");
        let inside: Vec<String> = ["run-a", "run-ab"].map(String::from).to_vec();
        assert_eq!(without_common_start(&inside), ["a", "ab"]);
        let whole: Vec<String> = ["run", "run-b"].map(String::from).to_vec();
        assert_eq!(without_common_start(&whole), whole, "a name is never taken away whole");
    }

    #[test]
    fn long_keys_wrap_after_their_parts() {
        assert_eq!(
            wrap_at_parts("loss.style_layers.relu3_1", 18),
            ["loss.style_layers.", "relu3_1"]
        );
        assert_eq!(wrap_at_parts("1000", 3), ["100", "0"], "no part to break at");
        assert_eq!(wrap_at_parts("", 5), [""]);
    }

    #[test]
    fn a_name_cut_ends_in_an_ellipsis() {
        assert_eq!(ellipsize("layers-deep", 20), "layers-deep");
        assert_eq!(ellipsize("layers-deep", 6), "layer…");
        assert_eq!(ellipsize("layers-deep", 6).chars().count(), 6);
    }
}
