//! Decoding barcodes in one grey frame. (Being written: see the camera issue.)
