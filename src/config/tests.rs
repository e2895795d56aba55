//! Tests of the whole stage: text in, `Config` out.
