//! Classifying mentions. So far: the keyword rules of `keywords/` (brand, products,
//! competitors, crisis terms, blacklisted and sensitive accounts), compiled once and matched in
//! one pass. Pure: text in, matches out.

pub mod keywords;
