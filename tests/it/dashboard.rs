//! The dashboard's views rendered with ratatui's TestBackend and compared
//! with insta snapshots, fed by a recording of the updates a run folder
//! produces (no libtorch run needed).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use image::RgbImage;
use insta::assert_snapshot;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::PathBuf;
use std::sync::Arc;
use stylelab::ui::effect::Effect;
use stylelab::ui::experiments::ExperimentEntry;
use stylelab::ui::follow::LiveUpdate;
use stylelab::ui::keys::{Keymap, bound_names};
use stylelab::ui::state::{App, Msg, update};
use stylelab::ui::tab::Tab;
use stylelab::ui::view::view;
use stylelab::ui::widgets::DisplayImage;
use stylelab_core::events::{Control, Term};
use stylelab_core::record::{Losses, MetricsHeader, Status, StepMetrics, Summary};
use stylelab_core::review::{RunEntry, RunState};

fn summary(status: Status, steps: u64) -> Summary {
    Summary {
        name: "starry-cat".into(),
        status,
        error: None,
        why: None,
        started: "2026-01-02T03:04:05+00:00".into(),
        finished: None,
        steps,
        iterations: 200,
        evals: steps + 10,
        wall_s: steps as f64 * 0.5,
        seconds_per_step: 0.5,
        device: "cpu (2 threads)".into(),
        libtorch: "2.11.0".into(),
        stylelab: "0.1.0".into(),
        weights: "weights/vgg19.safetensors".into(),
        weights_sha256: "00".into(),
        images_sha256: Default::default(),
        seed: 0,
        width: 64,
        height: 43,
        peak_rss_mib: 512.0,
        peak_gpu_mib: None,
        final_losses: Some(Losses {
            total: 1e5,
            content: 2e3,
            style: 4.0,
            tv: 0.02,
        }),
        clipped: None,
        pid: None,
        precision: "fp32".into(),
        precision_choice: None,
        memory_format: "channels_last (as set)".into(),
        host_reads_per_step: Some(1.2),
        seconds_to_first_evaluation: None,
        seconds_to_first_step: None,
        startup: Vec::new(),
        scales: Vec::new(),
        style_losses: Default::default(),
        regions: Vec::new(),
        scores: None,
        sweep: None,
        host: None,
        visible_devices: None,
        cuda_alloc_conf: None,
    }
}

fn row(iter: u64, style_weight: f64) -> StepMetrics {
    let t = iter as f64;
    StepMetrics {
        iter,
        evals: iter + iter / 3 + 1,
        elapsed_s: t * 0.5,
        total: 1e8 / (1.0 + t).powf(1.5),
        content: if iter == 0 {
            0.0
        } else {
            1e5 * (1.0 - (-t / 20.0).exp())
        },
        style: 1e5 / (1.0 + t).powi(2),
        tv: 3e-3 + 2e-2 * (1.0 - (-t / 30.0).exp()),
        layers: vec![
            1e5 * (1.0 - (-t / 20.0).exp()),
            5e2 / (1.0 + t),
            5e4 / (1.0 + t).powi(2),
        ],
        content_weight: 5.0,
        style_weight,
        tv_weight: 1e-3,
        width: 64,
        height: 43,
    }
}

fn gradient() -> Arc<DisplayImage> {
    Arc::new(DisplayImage::new(RgbImage::from_fn(64, 43, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 6) as u8, 128])
    })))
}

/// A dashboard drawn as if on 2026-11-21 in UTC: dates before it show as
/// dates, whatever the machine's clock and time zone.
fn new_app(color: bool) -> App {
    let mut app = App::new(color);
    app.now = chrono::DateTime::parse_from_rfc3339("2026-11-21T12:00:00+00:00").unwrap();
    app
}

/// What the follower reports for a run that is 60 steps into 200, with the
/// style weight doubled at step 40.
fn recording() -> Vec<LiveUpdate> {
    let config = [
        ("name", "\"starry-cat\""),
        ("loss.content_layers.relu4_2", "1.0"),
        ("loss.style_layers.relu1_1", "1.0"),
        ("loss.style_layers.relu2_1", "0.5"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    vec![
        LiveUpdate::Config(config),
        LiveUpdate::Summary(Box::new(Summary {
            final_losses: None,
            ..summary(Status::Running, 0)
        })),
        LiveUpdate::Header(MetricsHeader::new(vec![
            "content:relu4_2".into(),
            "style:relu1_1".into(),
            "style:relu2_1".into(),
        ])),
        LiveUpdate::Rows((0..=40).map(|i| row(i, 100.0)).collect()),
        LiveUpdate::Steered {
            iter: 40,
            term: Term::Style,
            from: 100.0,
            to: 200.0,
        },
        LiveUpdate::Rows((41..=60).map(|i| row(i, 200.0)).collect()),
        LiveUpdate::Snapshots(vec![
            (25, PathBuf::from("snapshots/iter_000025.png")),
            (50, PathBuf::from("snapshots/iter_000050.png")),
        ]),
        LiveUpdate::Image {
            iter: 50,
            image: gradient(),
        },
    ]
}

fn key(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

/// An app following the recorded run, in the Live tab.
fn live_app(color: bool) -> App {
    let mut app = new_app(color);
    app.runs.entries = vec![run_entry("20260102-030405-starry-cat", RunState::Running, None)];
    app.runs.sel = 0;
    let effects = update(&mut app, key(KeyCode::Enter)); // Runs tab is not active: nothing
    assert!(effects.is_empty());
    app.tab = Tab::Runs;
    let effects = update(&mut app, key(KeyCode::Enter));
    let Some(Effect::Follow { follow_id, .. }) = effects.first().cloned() else {
        panic!("{effects:?}")
    };
    for u in recording() {
        update(&mut app, Msg::Live { follow_id, update: u });
    }
    app
}

fn run_entry(id: &str, state: RunState, losses: Option<Losses>) -> RunEntry {
    let status = match state {
        RunState::Running => Status::Running,
        RunState::Stopped => Status::Stopped,
        RunState::Failed => Status::Failed,
        _ => Status::Completed,
    };
    let name = id.splitn(3, '-').nth(2).unwrap_or(id).to_string();
    RunEntry {
        dir: PathBuf::from("results").join(id),
        id: id.into(),
        state,
        summary: Some(Summary {
            name,
            final_losses: losses,
            ..summary(status, 120)
        }),
        last: None,
    }
}

fn render(app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| view(app, f)).unwrap();
    terminal.backend().to_string()
}

#[test]
fn live_view_80x24() {
    assert_snapshot!(render(&live_app(true), 80, 24));
}

#[test]
fn live_view_250x70() {
    assert_snapshot!(render(&live_app(true), 250, 70));
}

#[test]
fn live_view_smoothed_per_layer_no_color() {
    let mut app = live_app(false);
    update(&mut app, key(KeyCode::Char('m')));
    update(&mut app, key(KeyCode::Char('l')));
    assert!(app.live.smooth && app.live.per_layer);
    assert_snapshot!(render(&app, 120, 40));
}

#[test]
fn live_keys_become_control_lines_for_the_run() {
    let mut app = live_app(true);
    let dir = app.live.run.as_ref().unwrap().dir.clone();
    let sent = |app: &mut App, c: KeyCode| update(app, key(c));
    assert_eq!(
        sent(&mut app, KeyCode::Char(' ')),
        vec![Effect::Control(dir.clone(), Control::Pause)]
    );
    assert_eq!(
        sent(&mut app, KeyCode::Char('+')),
        vec![Effect::Control(dir.clone(), Control::Steer(Term::Style, 2.0))]
    );
    sent(&mut app, KeyCode::Char('t'));
    assert_eq!(app.live.steer, Term::Tv);
    assert_eq!(
        sent(&mut app, KeyCode::Char('-')),
        vec![Effect::Control(dir.clone(), Control::Steer(Term::Tv, 0.5))]
    );
    assert_eq!(
        sent(&mut app, KeyCode::Char('n')),
        vec![Effect::Control(dir.clone(), Control::SnapshotNow)]
    );
    assert_eq!(
        sent(&mut app, KeyCode::Char('s')),
        vec![Effect::Control(dir.clone(), Control::Stop)]
    );
    // Browsing snapshots asks for the earlier image.
    let fx = sent(&mut app, KeyCode::Char('['));
    assert!(matches!(&fx[..], [Effect::LoadImage { iter: 25, .. }]), "{fx:?}");
    // Once the run is over, steering keys do nothing.
    let follow_id = app.live.run.as_ref().unwrap().follow_id;
    update(
        &mut app,
        Msg::Live {
            follow_id,
            update: LiveUpdate::Summary(Box::new(summary(Status::Completed, 60))),
        },
    );
    assert!(sent(&mut app, KeyCode::Char('+')).is_empty());
}

#[test]
fn a_long_run_draws_from_a_bounded_history() {
    let mut app = live_app(true);
    let follow_id = app.live.run.as_ref().unwrap().follow_id;
    for chunk in (61..100_000u64).collect::<Vec<_>>().chunks(5000) {
        let rows = chunk.iter().map(|&i| row(i, 200.0)).collect();
        update(
            &mut app,
            Msg::Live {
                follow_id,
                update: LiveUpdate::Rows(rows),
            },
        );
    }
    let live = app.live.run.as_ref().unwrap();
    assert!(live.history.len() <= stylelab::ui::history::HISTORY_POINTS);
    let series = live.chart_series(true, true);
    assert!(!live.series.is_empty(), "the drawn curves are derived as rows arrive");
    assert!(
        series
            .iter()
            .all(|s| s.points.len() <= stylelab::ui::history::HISTORY_POINTS + 1)
    );
    assert!(render(&app, 120, 40).contains("99999/200"));
}

#[test]
fn experiments_view_shows_valid_and_invalid_files() {
    let mut app = new_app(true);
    update(
        &mut app,
        Msg::Experiments(vec![
            ExperimentEntry { path: "experiments/good.toml".into(), check: Some(Ok("good\n256 px, 150 lbfgs steps on cpu".into())), sweep_points: None },
            ExperimentEntry {
                path: "experiments/bad.toml".into(),
                check: Some(Err("experiments/bad.toml:6: loss.style_layers.relu9_1: 'relu9_1' is not a VGG19 layer (did you mean 'relu5_1'?)".into())),
                sweep_points: None,
            },
            ExperimentEntry { path: "experiments/slow.toml".into(), check: None, sweep_points: None },
        ]),
    );
    update(&mut app, key(KeyCode::Down));
    assert_snapshot!(render(&app, 80, 24));
    // Enter on an invalid file explains instead of launching.
    assert!(update(&mut app, key(KeyCode::Enter)).is_empty());
    assert!(app.message.as_deref().unwrap().contains("does not validate"));
    update(&mut app, key(KeyCode::Up));
    assert_eq!(
        update(&mut app, key(KeyCode::Enter)),
        vec![Effect::Launch("experiments/good.toml".into())]
    );
}

#[test]
fn runs_view_sorts_and_marks() {
    let mut app = new_app(true);
    app.tab = Tab::Runs;
    let l = |t: f64, s: f64| {
        Some(Losses {
            total: t,
            content: 1e3,
            style: s,
            tv: 0.01,
        })
    };
    update(
        &mut app,
        Msg::Runs(vec![
            run_entry("20260102-030405-layers-deep", RunState::Completed, l(2e5, 12.0)),
            run_entry("20260102-030000-layers-shallow", RunState::Stopped, l(5e5, 40.0)),
            run_entry("20260101-120000-quickstart", RunState::Failed, None),
        ]),
    );
    update(&mut app, key(KeyCode::Char(' ')));
    update(&mut app, key(KeyCode::Char(' ')));
    for _ in 0..5 {
        update(&mut app, key(KeyCode::Char('o'))); // started → … → total
    }
    assert_eq!(
        app.runs.entries[0].name(),
        "layers-shallow",
        "sorted by total, descending"
    );
    assert_snapshot!(render(&app, 100, 16 + 4));
    let fx = update(&mut app, key(KeyCode::Char('c')));
    assert!(matches!(&fx[..], [Effect::LoadCompare(d)] if d.len() == 2), "{fx:?}");
}

#[test]
fn help_prompt_and_small_window() {
    let mut app = live_app(true);
    app.launched.push(app.live.run.as_ref().unwrap().dir.clone());
    update(&mut app, key(KeyCode::Char('?')));
    assert_snapshot!("help", render(&app, 80, 24));
    update(&mut app, key(KeyCode::Esc));
    // A run started here is going: quitting asks first.
    assert!(update(&mut app, key(KeyCode::Char('q'))).is_empty());
    assert_snapshot!("quit_prompt", render(&app, 80, 24));
    // The prompt's lines name every key its handler answers (one table).
    let screen = render(&app, 80, 24);
    for (keys, what) in stylelab::ui::keys::help_lines(stylelab::ui::state::QUIT_KEYS) {
        assert!(screen.contains(&format!("{keys}  {what}")), "{keys}: {screen}");
    }
    // `c` cancels; Ctrl-C, which a plain `c` would match, stops.
    assert!(update(&mut app, key(KeyCode::Char('c'))).is_empty());
    assert!(app.prompt.is_none());
    update(&mut app, key(KeyCode::Char('q')));
    assert_eq!(
        update(
            &mut app,
            Msg::Key(crossterm::event::KeyEvent::new(
                KeyCode::Char('c'),
                crossterm::event::KeyModifiers::CONTROL
            ))
        ),
        vec![Effect::Quit { stop_launched: true }]
    );
    update(&mut app, key(KeyCode::Char('q')));
    assert_eq!(
        update(&mut app, key(KeyCode::Char('d'))),
        vec![Effect::Quit { stop_launched: false }]
    );
    assert_snapshot!("too_small", render(&app, 50, 12));
}

#[test]
fn compare_view_overlays_runs_and_lists_differences() {
    let mut app = new_app(true);
    let mk = |name: &str, scale: f64| {
        let mut h = stylelab::ui::history::History::new(64);
        for i in 0..=100 {
            let mut r = row(i, 100.0);
            r.total *= scale;
            h.push(&r);
        }
        stylelab::ui::compare::CompareRun {
            name: name.into(),
            history: h,
            image: Some(gradient()),
        }
    };
    let data = stylelab::ui::compare::CompareData::new(
        vec![mk("layers-shallow", 1.0), mk("layers-deep", 10.0)],
        vec![("loss.style_layers.relu3_1".into(), vec!["—".into(), "1.0".into()])],
    );
    update(&mut app, Msg::Compare(Box::new(data)));
    assert_eq!(app.tab, Tab::Compare);
    assert_snapshot!(render(&app, 120, 40));
}

/// Two sweep points compared at 80×24, 120×40 and 200×60 (issue 24): the
/// key table's heads are the legend's numbers and what tells the names
/// apart (never `sweep-st… sweep-st…`), numbers are never broken, long
/// keys break after their parts, and the legend names every run whole.
#[test]
fn compare_view_heads_show_what_tells_runs_apart_at_every_size() {
    let mut app = new_app(true);
    let mk = |name: &str, scale: f64| {
        let mut h = stylelab::ui::history::History::new(64);
        for i in 0..=50 {
            let mut r = row(i, 100.0);
            r.total *= scale;
            h.push(&r);
        }
        stylelab::ui::compare::CompareRun {
            name: name.into(),
            history: h,
            image: Some(gradient()),
        }
    };
    let data = stylelab::ui::compare::CompareData::new(
        vec![mk("sweep-style-weight-p000", 1.0), mk("sweep-style-weight-p001", 3.0)],
        vec![
            ("loss.style_weight".into(), vec!["1000.0".into(), "10000.0".into()]),
            ("loss.style_layers.relu3_1".into(), vec!["—".into(), "1.0".into()]),
        ],
    );
    // Scored: the trade-off picture numbers its points as the legend does.
    let data = stylelab::ui::compare::CompareData {
        tradeoff: vec![(0.58, 0.31), (0.64, 0.22)],
        ..data
    };
    update(&mut app, Msg::Compare(Box::new(data)));
    for (w, h) in [(80, 24), (120, 40), (200, 60)] {
        let screen = render(&app, w, h);
        assert!(
            screen.contains("1 p000") && screen.contains("2 p001"),
            "{w}×{h}: {screen}"
        );
        assert!(!screen.contains("sweep-st…"), "{w}×{h}: {screen}");
        assert!(screen.contains("1000 ") && screen.contains("1e4"), "{w}×{h}: {screen}");
        assert!(
            screen.contains("1 sweep-style-weight-p000"),
            "the legend names it whole: {screen}"
        );
        assert_snapshot!(format!("compare_view_sweep_{w}x{h}"), screen);
    }
}

#[test]
fn clicking_a_tab_title_opens_that_tab() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mut app = new_app(true);
    let screen = render(&app, 100, 24);
    let bar = screen.lines().next().unwrap().trim_matches('"').to_string();
    for (tab, title) in [
        (Tab::Runs, "2 Runs"),
        (Tab::Compare, "4 Compare"),
        (Tab::Experiments, "1 Experiments"),
    ] {
        // The first and last column of each title as drawn.
        let start = bar[..bar.find(title).unwrap()].chars().count() as u16;
        for column in [start, start + title.chars().count() as u16 - 1] {
            app.tab = Tab::Live;
            let click = MouseEvent {
                kind: MouseEventKind::Down(MouseButton::Left),
                column,
                row: 0,
                modifiers: KeyModifiers::NONE,
            };
            update(&mut app, Msg::Mouse(click));
            assert_eq!(app.tab, tab, "column {column} of {title:?}");
        }
    }
}

#[test]
fn runs_view_groups_a_sweeps_points_with_their_progress() {
    let mut app = new_app(true);
    app.tab = Tab::Runs;
    // Started when their folder names say.
    let run = |id: &str, state: RunState| {
        let mut r = run_entry(id, state, None);
        if let Some(s) = r.summary.as_mut() {
            s.started = format!(
                "{}-{}-{}T{}:{}:{}+00:00",
                &id[0..4],
                &id[4..6],
                &id[6..8],
                &id[9..11],
                &id[11..13],
                &id[13..15]
            );
        }
        r
    };
    let point = |id: &str, state: RunState, p: usize| {
        let mut r = run(id, state);
        if let Some(s) = r.summary.as_mut() {
            s.sweep = Some(stylelab_core::record::SweepMember {
                name: "sw".into(),
                point: p,
                points: 5,
            });
        }
        r
    };
    update(
        &mut app,
        Msg::Runs(vec![
            point("20260103-000000-sw-p002", RunState::Running, 2),
            run("20260102-120000-quickstart", RunState::Completed),
            point("20260101-000300-sw-p001", RunState::Failed, 1),
            point("20260101-000200-sw-p001", RunState::Completed, 1),
            point("20260101-000100-sw-p000", RunState::Failed, 0),
            run("20260101-000000-layers", RunState::Stopped),
        ]),
    );
    // Newest first, but the sweep's points stay together under its row.
    let names: Vec<&str> = app.runs.entries.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        names,
        [
            "20260103-000000-sw-p002",
            "20260101-000300-sw-p001",
            "20260101-000200-sw-p001",
            "20260101-000100-sw-p000",
            "20260102-120000-quickstart",
            "20260101-000000-layers",
        ]
    );
    let progress = stylelab_core::review::SweepProgress::of(&app.runs.entries, "sw");
    assert_eq!(
        (progress.done, progress.running, progress.failed, progress.to_do()),
        (1, 1, 1, 2)
    );
    // The selection stays on the run, below the sweep's row.
    update(&mut app, key(KeyCode::Down));
    assert_eq!(app.runs.entries[app.runs.sel].id, "20260101-000300-sw-p001");
    let screen = render(&app, 120, 18);
    assert!(screen.contains("▾ sw (5 points)"), "{screen}");
    assert!(
        screen.contains("1 done") && screen.contains("1 running") && screen.contains("1 failed"),
        "{screen}"
    );
    assert_snapshot!(screen);
}

/// The Runs view at 80×24 (issue 17): numbers keep their exponents (a
/// column that does not fit goes whole), names end in `…`, a sweep's row can
/// be selected, space marks its points and Enter folds them away.
#[test]
fn runs_view_at_80x24_cuts_no_number_and_handles_a_sweep_as_a_whole() {
    let mut app = new_app(false);
    app.tab = Tab::Runs;
    let losses = Some(Losses {
        total: 3.09e6,
        content: 1.234e5,
        style: 4.56e2,
        tv: 0.0123,
    });
    let point = |id: &str, p: usize| {
        let mut r = run_entry(id, RunState::Completed, losses);
        if let Some(s) = r.summary.as_mut() {
            s.sweep = Some(stylelab_core::record::SweepMember {
                name: "sw".into(),
                point: p,
                points: 2,
            });
        }
        r
    };
    update(
        &mut app,
        Msg::Runs(vec![
            point("20260103-000100-sw-p001", 1),
            point("20260103-000000-sw-p000", 0),
            run_entry(
                "20260102-000000-layers-deep-with-a-long-name",
                RunState::Completed,
                losses,
            ),
        ]),
    );
    let values = [
        (app.runs.entries[0].dir.clone(), "style_weight=1e4".to_string()),
        (app.runs.entries[1].dir.clone(), "style_weight=1e3".to_string()),
    ];
    update(
        &mut app,
        Msg::SweepValues(stylelab_core::review::sweeps::SweepValues {
            by_run: values.into(),
            settings: Default::default(),
        }),
    );
    let screen = render(&app, 80, 24);
    assert_snapshot!("runs_view_80x24", screen);
    for line in screen.lines() {
        // Every number drawn is whole: a mantissa is followed by its exponent.
        assert!(!line.contains("3.090e ") && !line.contains("3.090e│"), "{line}");
    }
    assert!(screen.contains("3.090e6"), "the total column fits: {screen}");
    assert!(screen.contains("style_weight=1e4"), "the swept values show: {screen}");
    // The selection starts on the first run; up reaches the sweep's row.
    update(&mut app, key(KeyCode::Up));
    assert_eq!(app.runs.on_header.as_deref(), Some("sw"));
    update(&mut app, key(KeyCode::Char(' ')));
    assert_eq!(app.runs.marked.len(), 2, "space on the sweep's row marks its points");
    update(&mut app, key(KeyCode::Up));
    update(&mut app, key(KeyCode::Enter));
    assert!(app.runs.collapsed.contains("sw"), "Enter folds the sweep");
    assert_eq!(app.runs.rows.len(), 2, "its header and the other run");
    assert!(render(&app, 80, 24).contains("▸ sw (2 points)"));
    update(&mut app, key(KeyCode::Enter));
    assert_eq!(app.runs.rows.len(), 4, "Enter unfolds it");
}

/// Keys pressed faster than snapshots decode (issue 17): the view ends on
/// the snapshot browsed to, whatever order the decodes finish in.
#[test]
fn fast_keys_end_on_the_snapshot_browsed_to() {
    let mut app = live_app(true);
    let follow_id = app.live.run.as_ref().unwrap().follow_id;
    update(
        &mut app,
        Msg::Live {
            follow_id,
            update: LiveUpdate::Snapshots((0..6).map(|i| (i * 10, PathBuf::from(format!("s{i}.png")))).collect()),
        },
    );
    let mut asked = Vec::new();
    for _ in 0..6 {
        for e in update(&mut app, key(KeyCode::Char('['))) {
            if let Effect::LoadImage { iter, .. } = e {
                asked.push(iter);
            }
        }
    }
    assert_eq!(asked, vec![40, 30, 20, 10, 0, 0]);
    // The decodes finish in reverse order: the last to arrive is step 40.
    for iter in asked.iter().rev() {
        update(
            &mut app,
            Msg::Image {
                follow_id,
                iter: *iter,
                image: gradient(),
            },
        );
    }
    assert_eq!(app.live.run.as_ref().unwrap().image.as_ref().map(|i| i.0), Some(0));
}

/// Live feedback (issue 17): a weight change shows at once, even paused;
/// "stopping" shows until the run has ended; a finished run's footer offers
/// only what works; a run without rows says it is starting, with no ETA.
#[test]
fn live_feedback_says_what_is_pending_and_what_works() {
    let mut app = live_app(true);
    let follow_id = app.live.run.as_ref().unwrap().follow_id;
    let live = |u| Msg::Live { follow_id, update: u };
    update(&mut app, live(LiveUpdate::Paused(true)));
    update(&mut app, key(KeyCode::Char('+')));
    let screen = render(&app, 120, 40);
    assert!(
        screen.contains("style_weight   2.000e2 → 4.000e2 (next step)"),
        "{screen}"
    );
    update(&mut app, key(KeyCode::Char('s')));
    assert!(render(&app, 120, 40).contains("stopping after the current step…"));
    update(
        &mut app,
        live(LiveUpdate::Summary(Box::new(summary(Status::Stopped, 60)))),
    );
    let screen = render(&app, 120, 40);
    assert!(!screen.contains("stopping after"), "{screen}");
    let footer = screen.lines().last().unwrap();
    assert!(
        !footer.contains("space pause") && footer.contains("the run has ended"),
        "{footer}"
    );
    assert!(
        update(&mut app, key(KeyCode::Char('+'))).is_empty(),
        "no steering of an ended run"
    );

    // A run that has written nothing yet.
    let mut app = new_app(true);
    app.tab = Tab::Runs;
    update(
        &mut app,
        Msg::Runs(vec![run_entry("20260102-030405-new", RunState::Running, None)]),
    );
    let Some(Effect::Follow { follow_id, .. }) = update(&mut app, key(KeyCode::Enter)).first().cloned() else {
        panic!()
    };
    update(
        &mut app,
        Msg::Live {
            follow_id,
            update: LiveUpdate::Rows(vec![row(0, 100.0), row(1, 100.0)]),
        },
    );
    let screen = render(&app, 120, 40);
    assert!(screen.contains("ETA -"), "no ETA from the first step: {screen}");
    let mut app = new_app(true);
    app.live.run = Some(stylelab::ui::live::run::Live::new("results/x".into(), 1, true));
    app.tab = Tab::Live;
    let screen = render(&app, 120, 40);
    assert!(screen.contains("starting… (loading libtorch"), "{screen}");
    assert!(!screen.contains("1e0"), "no axis of zeros: {screen}");
}

/// Enter on a sweep file runs its points as a sweep (issue 17).
#[test]
fn enter_on_a_sweep_file_starts_the_sweep() {
    let mut app = new_app(true);
    update(
        &mut app,
        Msg::Experiments(vec![ExperimentEntry {
            path: "experiments/sweep-style-weight.toml".into(),
            check: Some(Ok("sweep-style-weight\n192 px".into())),
            sweep_points: Some(3),
        }]),
    );
    assert!(render(&app, 100, 24).contains("Enter: run the sweep's 3 points"));
    assert_eq!(
        update(&mut app, key(KeyCode::Enter)),
        vec![
            Effect::LaunchSweep("experiments/sweep-style-weight.toml".into()),
            Effect::RefreshRuns
        ]
    );
    assert_eq!(app.tab, Tab::Runs);
}

/// The Live view's parameters name each layer's statistic and the regions.
#[test]
fn live_view_shows_the_style_statistics_and_the_regions() {
    let mut app = new_app(false);
    app.runs.entries = vec![run_entry("20260102-030405-regions", RunState::Running, None)];
    app.tab = Tab::Runs;
    let Some(Effect::Follow { follow_id, .. }) = update(&mut app, key(KeyCode::Enter)).first().cloned() else {
        panic!("no follow")
    };
    let config = [
        ("name", "\"regions\""),
        ("loss.style_loss", "\"sliced_wasserstein\""),
        ("loss.content_layers.relu4_2", "1.0"),
        ("loss.style_layers.relu1_1.loss", "\"histogram\""),
        ("loss.style_layers.relu1_1.weight", "2.0"),
        ("loss.style_layers.relu2_1", "1.0"),
        ("regions.ground.color", "\"black\""),
        ("regions.sky.color", "\"white\""),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let updates = [
        LiveUpdate::Config(config),
        LiveUpdate::Summary(Box::new(summary(Status::Running, 0))),
        LiveUpdate::Header(MetricsHeader::new(vec![
            "content:relu4_2".into(),
            "style:relu1_1@ground".into(),
            "style:relu2_1@ground".into(),
            "style:relu1_1@sky".into(),
            "style:relu2_1@sky".into(),
        ])),
    ];
    for u in updates {
        update(&mut app, Msg::Live { follow_id, update: u });
    }
    let screen = render(&app, 120, 40);
    // Too long for the panel: wrapped under its first word, not cut.
    assert!(screen.contains("│style   sliced_wasserstein   "), "{screen}");
    assert!(
        screen.contains("│        relu1_1×2.0[histogram] relu2_1   "),
        "{screen}"
    );
    assert!(screen.contains("regions ground(black) sky(white)"), "{screen}");
    // At 80×24 the panel grows to show it all; lower, the layers give way
    // (ending in …), never a weight (issue 24).
    let small = render(&app, 80, 24);
    assert!(small.contains("regions ground(black) sky(white)"), "{small}");
    assert_snapshot!("live_view_regions_80x24", small);
    let low = render(&app, 80, 18);
    for weight in ["content_weight", "style_weight", "tv_weight"] {
        assert!(low.contains(weight), "{weight} missing at 80×18: {low}");
    }
    assert!(low.contains(" …"), "the layers cut say so: {low}");
}

/// A tiled scale's plan shows in the progress panel, and while an
/// evaluation takes long, how far it has got (issue 26).
#[test]
fn live_view_shows_the_tiles_and_the_evaluation_under_way() {
    let mut app = live_app(false);
    let follow_id = app.live.run.as_ref().unwrap().follow_id;
    let tiled = Summary {
        final_losses: None,
        scales: vec![stylelab_core::record::Scale {
            size: 64,
            width: 64,
            height: 43,
            iterations: 200,
            from_step: 0,
            tiling: Some(stylelab_core::memory::TileChoice {
                tile: 32,
                halo: 16,
                tiles: 4,
                overlap: 2.1,
            }),
        }],
        ..summary(Status::Running, 60)
    };
    let progress = stylelab_core::events::EvalProgress {
        iter: 60,
        pass: 2,
        done: 3,
        tiles: 4,
    };
    for u in [
        LiveUpdate::Summary(Box::new(tiled)),
        LiveUpdate::Progress(Some(progress)),
    ] {
        update(&mut app, Msg::Live { follow_id, update: u });
    }
    let screen = render(&app, 120, 40);
    assert!(screen.contains("4 tiles of 32 px"), "{screen}");
    assert!(
        screen.contains("60/200 running, evaluating tile 3 of 4, pass 2 of 2"),
        "{screen}"
    );
    let small = render(&app, 80, 24);
    assert!(small.contains("60/200 running, tile 3/4, pass 2/2"), "{small}");
    update(
        &mut app,
        Msg::Live {
            follow_id,
            update: LiveUpdate::Progress(None),
        },
    );
    let screen = render(&app, 120, 40);
    assert!(screen.contains("4 tiles of 32 px"), "{screen}");
    assert!(!screen.contains("evaluating"), "{screen}");
}

/// The key names a view's table binds, and each footer group's keys as
/// written with the names of the keys its binding binds.
fn table<K: Keymap>() -> (Vec<String>, Vec<(String, Vec<String>)>) {
    let footers = K::KEYS
        .iter()
        .filter_map(|b| {
            let (keys, _) = b.footer?;
            Some((keys.to_string(), b.keys.iter().map(|(k, _)| k.name()).collect()))
        })
        .collect();
    (bound_names(K::KEYS), footers)
}

/// One table per view is read by the key handler, the footer and the help
/// (issue 24): every key a view binds (and every global one) is named in
/// that view's help as drawn, a footer names only keys its binding binds,
/// and `m` is described as what it does in each view.
#[test]
fn each_views_help_and_footer_come_from_its_key_table() {
    use stylelab::ui::compare::CompareView;
    use stylelab::ui::experiments::ExperimentsView;
    use stylelab::ui::live::LiveView;
    use stylelab::ui::runs::RunsView;
    use stylelab::ui::view::help_text;
    for tab in Tab::ALL {
        let (bound, footers) = match tab {
            Tab::Experiments => table::<ExperimentsView>(),
            Tab::Runs => table::<RunsView>(),
            Tab::Live => table::<LiveView>(),
            Tab::Compare => table::<CompareView>(),
        };
        let help = help_text(tab);
        let named: Vec<&str> = help.iter().flat_map(|(k, _)| k.split(' ')).collect();
        for name in bound.iter().chain(&bound_names(stylelab::ui::state::GLOBAL_KEYS)) {
            assert!(
                named.contains(&name.as_str()),
                "{tab:?}: {name} is bound but not in the help"
            );
        }
        for (written, keys) in &footers {
            for token in written.split(['/', ' ']) {
                assert!(
                    keys.iter().any(|k| k == token),
                    "{tab:?}: the footer's {token:?} is not bound"
                );
            }
        }
        // The help drawn is that text.
        let mut app = live_app(false);
        app.tab = tab;
        update(&mut app, key(KeyCode::Char('?')));
        let screen = render(&app, 120, 40);
        assert!(screen.contains(&format!("{} keys", tab.title())), "{screen}");
        for (k, what) in help.iter().filter(|(k, _)| !k.is_empty()) {
            assert!(
                screen.contains(&format!("{k:<22}{what}")),
                "{tab:?}: {k} {what}\n{screen}"
            );
        }
    }
    let m = |tab| help_text(tab).into_iter().find(|(k, _)| k == "m").map(|(_, what)| what);
    assert_eq!(m(Tab::Live), Some("smoothed curves on / off"));
    assert_eq!(m(Tab::Compare), Some("next metric: total, content, style, tv"));
    assert_eq!(m(Tab::Runs), None, "m does nothing in Runs");
}

/// The footer offers only what the keys do there: on a sweep's row, Enter
/// folds; on a run, it opens; every footer group's keys act.
#[test]
fn the_footer_follows_the_selection() {
    let mut app = new_app(true);
    app.tab = Tab::Runs;
    let mut point = run_entry("20260103-000000-sw-p000", RunState::Completed, None);
    if let Some(s) = point.summary.as_mut() {
        s.sweep = Some(stylelab_core::record::SweepMember {
            name: "sw".into(),
            point: 0,
            points: 1,
        });
    }
    update(&mut app, Msg::Runs(vec![point]));
    let on_run = stylelab::ui::view::footer(&app);
    assert!(on_run.contains("Enter open") && !on_run.contains("fold"), "{on_run}");
    update(&mut app, key(KeyCode::Up));
    assert_eq!(app.runs.on_header.as_deref(), Some("sw"));
    let on_sweep = stylelab::ui::view::footer(&app);
    assert_eq!(
        on_sweep,
        "j/k select  Enter fold/unfold  space mark its points  c compare  o sort"
    );
    update(&mut app, key(KeyCode::Enter));
    assert!(app.runs.collapsed.contains("sw"), "Enter on the sweep's row folds it");
}
