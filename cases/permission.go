package cases

// Permission names one thing a person may or may not do, as the authorization table of
// role × permission × scope (docs/security.md) lists it. The table itself and the roles
// holding each permission belong to the accounts work; the workflow names which permission
// each transition needs (TransitionPermission), so both read the same names.
type Permission string

// The permissions of the authorization table.
const (
	PermRead            Permission = "read"             // see cases in scope (identity fields masked)
	PermRegister        Permission = "register"         // register a petition or dispute
	PermEdit            Permission = "edit"             // edit a case's fields, add notes
	PermAccept          Permission = "accept"           // accept (受理), refuse, redirect, object
	PermAssign          Permission = "assign"           // forward, assign, route out, transfer
	PermHandle          Permission = "handle"           // investigate, mediate, hear, implement
	PermExtend          Permission = "extend"           // approve an extension (单位负责人 only)
	PermServeOpinion    Permission = "serve_opinion"    // serve the 处理意见书 or a review opinion
	PermClose           Permission = "close"            // close a case
	PermResolveConflict Permission = "resolve_conflict" // resolve a conflict between offline edits
	PermViewIdentity    Permission = "view_identity"    // see a petitioner's name, ID, phone, address; accusation content
	PermExport          Permission = "export"           // export ledgers and bundles
	PermImport          Permission = "import"           // import ledgers and bundles
	PermEnroll          Permission = "enroll"           // enroll and revoke stations
	PermManageAccounts  Permission = "manage_accounts"  // create, change and revoke accounts
	PermConfigure       Permission = "configure"        // set the calendar and metric definitions
)
