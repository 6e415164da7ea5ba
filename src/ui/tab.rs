//! The dashboard's views as the tab bar names them. A leaf: the views,
//! `state` and `view` all name tabs, and it names nothing of theirs.

/// The dashboard's four views, in tab-bar order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Experiment files found, each with whether it validates; `Enter` launches one.
    Experiments,
    /// Run folders, sortable and markable for comparison; `Enter` follows one.
    Runs,
    /// The followed run: its chart, image, progress and steering keys.
    Live,
    /// Two or more marked runs side by side.
    Compare,
}

impl Tab {
    /// Every tab, in the order the bar shows them and `1`–`4` select them.
    pub const ALL: [Tab; 4] = [Tab::Experiments, Tab::Runs, Tab::Live, Tab::Compare];
    /// The bar's labels, indexed like [`Tab::ALL`].
    pub const TITLES: [&'static str; 4] = ["Experiments", "Runs", "Live", "Compare"];

    /// The label shown in the tab bar.
    pub fn title(self) -> &'static str {
        Tab::TITLES[self.index()]
    }

    /// Position in the tab bar.
    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    /// The tab `step` places after this one (before it when negative), round the bar.
    pub fn step(self, step: isize) -> Tab {
        let n = Tab::ALL.len() as isize;
        Tab::ALL[(self.index() as isize + step).rem_euclid(n) as usize]
    }
}
