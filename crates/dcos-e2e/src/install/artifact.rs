//! Build artifacts given by URL: fetched once into a cache, resumed, checked.
