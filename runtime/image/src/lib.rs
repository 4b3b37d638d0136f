//! rrun images: references, registry client, content store, snapshots.
