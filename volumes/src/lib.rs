//! rrun volumes: named and anonymous volumes under the state directory.
