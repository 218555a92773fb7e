//! `tagtally decode IMAGE...`. (Being written: see the camera issue.)
