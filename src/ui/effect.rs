//! What `update` asks of the world: an [`Effect`] is work for the runtime
//! (`ui.rs`) to perform, and a [`Reply`] is a view's answer to a key, its
//! effects plus what it asks of the dashboard around it. A leaf below the
//! views, so that no view reaches into another.

use super::tab::Tab;
use std::path::PathBuf;
use stylelab_core::events::Control;

/// Work for the runtime.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Start a run of this experiment file in the background.
    Launch(PathBuf),
    /// Start `stylelab sweep` on this experiment file in the background.
    LaunchSweep(PathBuf),
    /// Append a control line to this run folder's control file.
    Control(PathBuf, Control),
    /// Start following the run in `dir`, tagging updates with `follow_id`.
    Follow { dir: PathBuf, follow_id: u64 },
    /// Open this file in `$VISUAL`, else `$EDITOR`, else `vi`, leaving the screen meanwhile.
    Edit(PathBuf),
    /// Show an image large with viuer, then come back.
    ViewLarge(PathBuf),
    /// Decode snapshot `path` of step `iter` for the Live view.
    LoadImage { follow_id: u64, iter: u64, path: PathBuf },
    /// Load these run folders for the Compare view.
    LoadCompare(Vec<PathBuf>),
    /// Re-read the list of run folders.
    RefreshRuns,
    /// Re-check every experiment file.
    Validate,
    /// Quit; stop the runs launched here first when true.
    Quit { stop_launched: bool },
}

/// A view's answer to a key: work for the runtime, and what the dashboard
/// around the view should do (a line for the status bar, another tab, a
/// run to follow in Live).
#[derive(Debug, Default, PartialEq)]
pub struct Reply {
    /// Work for the runtime, in order.
    pub effects: Vec<Effect>,
    /// A line for the status bar.
    pub message: Option<String>,
    /// The tab to show next.
    pub tab: Option<Tab>,
    /// A run folder to follow in the Live tab (its effect comes first).
    pub follow: Option<PathBuf>,
}

impl Reply {
    /// Only these effects.
    pub fn effects(effects: Vec<Effect>) -> Reply {
        Reply {
            effects,
            ..Reply::default()
        }
    }

    /// Only a line for the status bar.
    pub fn message(text: impl Into<String>) -> Reply {
        Reply {
            message: Some(text.into()),
            ..Reply::default()
        }
    }
}
