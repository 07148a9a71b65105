//! Placeholder: the gazetteer lands with the classifier issue.
