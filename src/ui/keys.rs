//! Key bindings as data: each view keeps one table of [`Binding`]s, and its
//! key handler, the footer and the `?` help all read that table, so the
//! three cannot disagree (helix's keymap). A leaf: the views and `state`
//! use it, it uses none of them.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A key as a binding names it: a key code, with Ctrl held or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The key.
    pub code: KeyCode,
    /// Bound only with Ctrl held; a plain key matches with or without modifiers.
    pub ctrl: bool,
}

impl Key {
    /// A key other than a character (`Enter`, `↓`, …).
    pub const fn code(code: KeyCode) -> Key {
        Key { code, ctrl: false }
    }

    /// A character key.
    pub const fn char(c: char) -> Key {
        Key::code(KeyCode::Char(c))
    }

    /// A character with Ctrl held.
    pub const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: true,
        }
    }

    /// Whether a key press is this key.
    pub fn matches(&self, key: &KeyEvent) -> bool {
        key.code == self.code && (!self.ctrl || key.modifiers.contains(KeyModifiers::CONTROL))
    }

    /// The key as the footer and the help write it: `space`, `Enter`, `↓`, `Ctrl-C`, `m`.
    pub fn name(&self) -> String {
        match self.code {
            KeyCode::Char(' ') => "space".to_string(),
            KeyCode::Char(c) if self.ctrl => format!("Ctrl-{}", c.to_ascii_uppercase()),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "Shift-Tab".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::End => "End".into(),
            other => format!("{other:?}"),
        }
    }
}

/// One line of a view's key table: keys and the action each does, when
/// they work, and how the footer and the help describe them.
#[derive(Debug)]
pub struct Binding<A: 'static, W: 'static> {
    /// The keys, each with the action it maps to.
    pub keys: &'static [(Key, A)],
    /// When the keys work (the view says whether it holds now); the footer
    /// shows a binding only then.
    pub when: W,
    /// The footer's group, (keys as written, what they do); None to leave
    /// the binding out of the footer.
    pub footer: Option<(&'static str, &'static str)>,
    /// What the help says the keys do; None when a binding above with the
    /// same keys says it already.
    pub help: Option<&'static str>,
}

/// A view's key table and the questions it answers.
pub trait Keymap {
    /// What a key asks the view to do.
    type Action: Copy + 'static;
    /// A condition a binding can depend on (`()` where none does).
    type When: Copy + 'static;
    /// The bindings, in the order the footer and the help list them; the
    /// first binding that holds and has the key wins.
    const KEYS: &'static [Binding<Self::Action, Self::When>];

    /// Whether `when` holds in the view's present state.
    fn holds(&self, when: Self::When) -> bool;

    /// Words the footer ends with, after the last key (what is not there and why).
    fn footer_note(&self) -> Option<&'static str> {
        None
    }

    /// The action `key` maps to now, if any.
    fn action(&self, key: &KeyEvent) -> Option<Self::Action> {
        Self::KEYS
            .iter()
            .filter(|b| self.holds(b.when))
            .flat_map(|b| b.keys.iter())
            .find(|(k, _)| k.matches(key))
            .map(|(_, a)| *a)
    }

    /// The footer: the groups of the bindings that hold now, two spaces apart.
    fn footer(&self) -> String {
        let mut groups: Vec<String> = Self::KEYS
            .iter()
            .filter(|b| self.holds(b.when))
            .filter_map(|b| b.footer)
            .map(|(keys, what)| format!("{keys} {what}"))
            .collect();
        if let (Some(note), Some(last)) = (self.footer_note(), groups.last_mut()) {
            last.push(' ');
            last.push_str(note);
        }
        groups.join("  ")
    }
}

/// The help's lines for a table: (the keys' names, what they do), one per
/// binding that has words for the help.
pub fn help_lines<A, W>(table: &[Binding<A, W>]) -> Vec<(String, &'static str)> {
    table
        .iter()
        .filter_map(|b| {
            let mut names: Vec<String> = Vec::new();
            for (k, _) in b.keys {
                let name = k.name();
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            Some((names.join(" "), b.help?))
        })
        .collect()
}

/// The action `key` maps to in a table whose bindings always hold: the
/// first that has the key.
pub fn lookup<A: Copy>(table: &[Binding<A, ()>], key: &KeyEvent) -> Option<A> {
    table
        .iter()
        .flat_map(|b| b.keys.iter())
        .find(|(k, _)| k.matches(key))
        .map(|(_, a)| *a)
}

/// Every key a table binds, by name.
pub fn bound_names<A, W>(table: &[Binding<A, W>]) -> Vec<String> {
    table
        .iter()
        .flat_map(|b| b.keys.iter().map(|(k, _)| k.name()))
        .collect()
}

/// As many of the footer's `keys` (groups separated by two spaces) as fit
/// in `width` columns, whole: a key is never cut mid-word (`?` lists them all).
pub fn whole_keys(keys: &str, width: usize) -> String {
    let mut out = String::new();
    for group in keys.split("  ") {
        let sep = if out.is_empty() { 0 } else { 2 };
        if out.chars().count() + sep + group.chars().count() > width {
            break;
        }
        if sep > 0 {
            out.push_str("  ");
        }
        out.push_str(group);
    }
    out
}

/// Moves a list selection one row down or up, clamped to the list; 0 when it is empty.
pub fn step_index(sel: &mut usize, len: usize, down: bool) {
    if len == 0 {
        *sel = 0;
    } else if down {
        *sel = (*sel + 1).min(len - 1);
    } else {
        *sel = sel.saturating_sub(1);
    }
}
