//! A Slint platform without a display: the software renderer into memory, with an event
//! loop the caller pumps. `tagtally screenshot`, the UI tests and the UI bench use it,
//! so what they check is what a kiosk shows.

use std::collections::VecDeque;
use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{EventLoopProxy, Platform, PlatformError, WindowAdapter, WindowEvent};
use slint::{EventLoopError, LogicalPosition, PhysicalSize};

type Task = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Queue {
    tasks: Mutex<VecDeque<Task>>,
    ready: Condvar,
}

struct Proxy(Arc<Queue>);

impl EventLoopProxy for Proxy {
    fn quit_event_loop(&self) -> Result<(), EventLoopError> {
        Ok(())
    }

    fn invoke_from_event_loop(&self, event: Task) -> Result<(), EventLoopError> {
        let mut q = self
            .0
            .tasks
            .lock()
            .expect("the queue lock is never poisoned");
        q.push_back(event);
        self.0.ready.notify_all();
        Ok(())
    }
}

struct HeadlessPlatform {
    window: Rc<MinimalSoftwareWindow>,
    queue: Arc<Queue>,
}

impl Platform for HeadlessPlatform {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, PlatformError> {
        Ok(self.window.clone())
    }

    fn new_event_loop_proxy(&self) -> Option<Box<dyn EventLoopProxy>> {
        Some(Box::new(Proxy(self.queue.clone())))
    }
}

/// The headless display of this thread.
pub struct Headless {
    window: Rc<MinimalSoftwareWindow>,
    queue: Arc<Queue>,
}

impl Headless {
    /// Install the headless platform on this thread with a window of `width` x
    /// `height` physical pixels. Call before creating any Slint component.
    pub fn install(width: u32, height: u32) -> Result<Headless, PlatformError> {
        let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
        window.set_size(PhysicalSize::new(width, height));
        let queue = Arc::new(Queue::default());
        slint::platform::set_platform(Box::new(HeadlessPlatform {
            window: window.clone(),
            queue: queue.clone(),
        }))
        .map_err(|e| PlatformError::Other(format!("cannot install the headless platform: {e}")))?;
        Ok(Headless { window, queue })
    }

    pub fn resize(&self, width: u32, height: u32) {
        self.window.set_size(PhysicalSize::new(width, height));
    }

    /// Run what other threads handed to the event loop, and due timers.
    pub fn pump(&self) -> usize {
        let tasks: Vec<Task> = {
            let mut q = self
                .queue
                .tasks
                .lock()
                .expect("the queue lock is never poisoned");
            q.drain(..).collect()
        };
        let n = tasks.len();
        for t in tasks {
            t();
        }
        slint::platform::update_timers_and_animations();
        n
    }

    /// Pump until `done` holds or `timeout` passes; returns whether it held.
    pub fn pump_until(&self, timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            self.pump();
            if done() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let q = self
                .queue
                .tasks
                .lock()
                .expect("the queue lock is never poisoned");
            if q.is_empty() {
                let wait = (deadline - now).min(Duration::from_millis(20));
                let _ = self.queue.ready.wait_timeout(q, wait);
            }
        }
    }

    /// Type text as a keyboard (or a wedge scanner) would: one key press per character.
    pub fn type_text(&self, text: &str) {
        for c in text.chars() {
            let text: slint::SharedString = c.to_string().into();
            self.window
                .dispatch_event(WindowEvent::KeyPressed { text: text.clone() });
            self.window
                .dispatch_event(WindowEvent::KeyReleased { text });
        }
    }

    /// Tap at a logical position.
    pub fn tap(&self, x: f32, y: f32) {
        let position = LogicalPosition::new(x, y);
        let button = slint::platform::PointerEventButton::Left;
        self.window
            .dispatch_event(WindowEvent::PointerMoved { position });
        self.window
            .dispatch_event(WindowEvent::PointerPressed { position, button });
        self.window
            .dispatch_event(WindowEvent::PointerReleased { position, button });
        self.window.dispatch_event(WindowEvent::PointerExited);
    }

    /// Turn a mouse wheel over a logical position: `dy` logical pixels (negative
    /// scrolls the content up, towards what is below).
    pub fn scroll(&self, x: f32, y: f32, dy: f32) {
        let position = LogicalPosition::new(x, y);
        self.window
            .dispatch_event(WindowEvent::PointerMoved { position });
        self.window.dispatch_event(WindowEvent::PointerScrolled {
            position,
            delta_x: 0.0,
            delta_y: dy,
        });
    }

    /// Draw with a finger: press at the first point, slide through the others in 4 px
    /// steps (as a touch screen reports), lift at the last.
    pub fn stroke(&self, points: &[(f32, f32)]) {
        let Some(&(x, y)) = points.first() else {
            return;
        };
        let button = slint::platform::PointerEventButton::Left;
        let at = |x: f32, y: f32| LogicalPosition::new(x, y);
        self.window
            .dispatch_event(WindowEvent::PointerMoved { position: at(x, y) });
        self.window.dispatch_event(WindowEvent::PointerPressed {
            position: at(x, y),
            button,
        });
        for pair in points.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let steps = ((b.0 - a.0).hypot(b.1 - a.1) / 4.0).ceil().max(1.0) as usize;
            for i in 1..=steps {
                let t = i as f32 / steps as f32;
                self.window.dispatch_event(WindowEvent::PointerMoved {
                    position: at(a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t),
                });
            }
        }
        let &(x, y) = points.last().unwrap_or(&(x, y));
        self.window.dispatch_event(WindowEvent::PointerReleased {
            position: at(x, y),
            button,
        });
        self.window.dispatch_event(WindowEvent::PointerExited);
    }

    /// Render the window now and return its pixels (RGBA, row-major).
    pub fn snapshot(&self) -> Result<image::RgbaImage, PlatformError> {
        let buf = slint::Window::take_snapshot(self.window.window())?;
        image::RgbaImage::from_raw(buf.width(), buf.height(), buf.as_bytes().to_vec())
            .ok_or_else(|| PlatformError::Other("snapshot has the wrong size".into()))
    }

    /// Render the window into a PNG file.
    pub fn save_png(&self, path: &Path) -> Result<(), PlatformError> {
        self.snapshot()?
            .save(path)
            .map_err(|e| PlatformError::Other(format!("cannot write {}: {e}", path.display())))
    }
}
