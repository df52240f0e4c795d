package mongostore

// caseIndex is the in-memory index of case summaries of the embedded
// store (see Options.ExclusiveDrafts).
type caseIndex struct{}
