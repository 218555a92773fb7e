//! Camera scanning: frames (from V4L2, an image folder or files) decoded to tags.

pub mod decode;
