package cases

import (
	"crypto/subtle"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/fengqiao/fengqiao/internal/mp"
)

// A credential is a password hashed with argon2id (RFC 9106) under a per-account salt, with
// the parameters it was hashed with, so that changing the defaults never invalidates an
// existing password. It is replicated with its account, so that a station can check a
// password with no network; the password itself is never stored, replicated or logged.
// Hashing is pure computation; the salt comes from the caller (server/ draws it from
// crypto/rand).

// Argon2Params are the cost parameters of argon2id.
type Argon2Params struct {
	Time      uint32 `json:"t"` // passes over memory
	MemoryKiB uint32 `json:"m"`
	Threads   uint8  `json:"p"`
}

// DefaultArgon2 is what a cheap 2-core laptop affords per sign-in: RFC 9106's second
// recommended option scaled down to OWASP's minimum (19 MiB, 2 passes, 1 lane), about 40–80
// ms of one core here (docs/security.md). Stations and hubs may raise it in their config.
var DefaultArgon2 = Argon2Params{Time: 2, MemoryKiB: 19 * 1024, Threads: 1}

// Bounds on parameters a credential may carry: a replicated credential is outside input, and
// one asking for gigabytes must not take a station down at sign-in.
const (
	MaxArgon2Time      = 10
	MaxArgon2MemoryKiB = 256 * 1024
	MaxArgon2Threads   = 4
	minSaltBytes       = 16
	maxSaltBytes       = 64
	hashBytes          = 32
	// Password lengths, in characters and bytes.
	MinPasswordRunes = 8
	MaxPasswordBytes = 256
)

// Credential is a hashed password.
type Credential struct {
	Alg    string       `json:"alg"` // "argon2id"
	Params Argon2Params `json:"params"`
	Salt   []byte       `json:"salt"`
	Hash   []byte       `json:"hash"`
}

const algArgon2id = "argon2id"

// CheckArgon2 reports whether p is within the bounds a credential may use.
func CheckArgon2(p Argon2Params) error {
	if p.Time < 1 || p.Time > MaxArgon2Time || p.MemoryKiB < 8*uint32(max(p.Threads, 1)) ||
		p.MemoryKiB > MaxArgon2MemoryKiB || p.Threads < 1 || p.Threads > MaxArgon2Threads {
		return fmt.Errorf("argon2id parameters t=%d m=%dKiB p=%d out of bounds (t 1–%d, m ≤ %d KiB, p 1–%d)",
			p.Time, p.MemoryKiB, p.Threads, MaxArgon2Time, MaxArgon2MemoryKiB, MaxArgon2Threads)
	}
	return nil
}

// CheckPassword judges a new password (never repeating it in the message).
func CheckPassword(field, password string) *FieldError {
	switch {
	case len(password) > MaxPasswordBytes:
		return fieldErr(field, "password_too_long", fmt.Sprintf("密码不能超过 %d 字节", MaxPasswordBytes),
			fmt.Sprintf("a password has at most %d bytes", MaxPasswordBytes))
	case !utf8.ValidString(password):
		return fieldErr(field, "password_encoding", "密码含有无效字符", "the password is not valid UTF-8")
	case utf8.RuneCountInString(password) < MinPasswordRunes:
		return fieldErr(field, "password_too_short", fmt.Sprintf("密码至少需要 %d 个字符", MinPasswordRunes),
			fmt.Sprintf("a password needs at least %d characters", MinPasswordRunes))
	}
	return nil
}

// NewCredential hashes password under salt with p.
func NewCredential(password string, salt []byte, p Argon2Params) (Credential, error) {
	if err := CheckPassword("password", password); err != nil {
		return Credential{}, err
	}
	if err := CheckArgon2(p); err != nil {
		return Credential{}, err
	}
	if len(salt) < minSaltBytes || len(salt) > maxSaltBytes {
		return Credential{}, fmt.Errorf("salt of %d bytes (want %d–%d)", len(salt), minSaltBytes, maxSaltBytes)
	}
	return Credential{Alg: algArgon2id, Params: p, Salt: append([]byte(nil), salt...),
		Hash: argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, hashBytes)}, nil
}

// Verify reports whether password is the one c was made from, in constant time over the hash.
// A credential out of bounds (Check) never verifies.
func (c Credential) Verify(password string) bool {
	if c.check() != nil || len(password) > MaxPasswordBytes {
		return false
	}
	got := argon2.IDKey([]byte(password), c.Salt, c.Params.Time, c.Params.MemoryKiB, c.Params.Threads, uint32(len(c.Hash)))
	return subtle.ConstantTimeCompare(got, c.Hash) == 1
}

// IsZero reports whether c holds no credential.
func (c Credential) IsZero() bool { return c.Alg == "" }

func (c Credential) check() error {
	switch {
	case c.Alg != algArgon2id:
		return fmt.Errorf("credential algorithm %q (want %s)", c.Alg, algArgon2id)
	case len(c.Salt) < minSaltBytes || len(c.Salt) > maxSaltBytes:
		return fmt.Errorf("credential salt of %d bytes", len(c.Salt))
	case len(c.Hash) != hashBytes:
		return fmt.Errorf("credential hash of %d bytes", len(c.Hash))
	}
	return CheckArgon2(c.Params)
}

// Encode returns the canonical encoding of c, as an account op stores it:
//
//	[alg, time, memoryKiB, threads, salt, hash]
func (c Credential) Encode() []byte {
	return mp.Encode(func(w *mp.Writer) {
		w.ArrayLen(6)
		w.String(c.Alg)
		w.Uint(uint64(c.Params.Time))
		w.Uint(uint64(c.Params.MemoryKiB))
		w.Uint(uint64(c.Params.Threads))
		w.Bin(c.Salt)
		w.Bin(c.Hash)
	})
}

// DecodeCredential decodes a credential from outside input (a replicated op), checking
// every length and bound before use.
func DecodeCredential(b []byte) (Credential, error) {
	if len(b) > maxCredentialLen {
		return Credential{}, fmt.Errorf("decode credential: %d bytes: %w", len(b), mp.ErrMalformed)
	}
	r := mp.NewReader(b)
	r.ExpectArray(6, 6)
	var c Credential
	c.Alg = r.String(16)
	t, m, p := r.Uint(), r.Uint(), r.Uint()
	c.Salt = append([]byte(nil), r.Bytes(maxSaltBytes)...)
	c.Hash = append([]byte(nil), r.Bytes(64)...)
	if err := r.Err(); err != nil {
		return Credential{}, fmt.Errorf("decode credential: %w", err)
	}
	if r.Remaining() != 0 || t > MaxArgon2Time || m > MaxArgon2MemoryKiB || p > MaxArgon2Threads {
		return Credential{}, fmt.Errorf("decode credential: trailing bytes or parameters out of bounds: %w", mp.ErrMalformed)
	}
	c.Params = Argon2Params{Time: uint32(t), MemoryKiB: uint32(m), Threads: uint8(p)}
	if err := c.check(); err != nil {
		return Credential{}, fmt.Errorf("decode credential: %v: %w", err, mp.ErrMalformed)
	}
	return c, nil
}

// SignInPolicy limits wrong passwords per account: FreeAttempts in a row cost nothing, then
// each further failure locks the account's sign-in for BaseLockMs doubled per failure, up
// to MaxLockMs. A correct password (once not locked) clears the count.
type SignInPolicy struct {
	FreeAttempts int
	BaseLockMs   int64
	MaxLockMs    int64
}

// DefaultSignInPolicy: 5 free attempts, then 30 s, 1 min, 2 min, ... up to 15 min.
var DefaultSignInPolicy = SignInPolicy{FreeAttempts: 5, BaseLockMs: 30_000, MaxLockMs: 15 * 60_000}

// LockedUntil returns until when (ms) sign-in is refused after failures wrong passwords in a
// row, the last at lastMs; 0 when it is not locked.
func (p SignInPolicy) LockedUntil(failures int, lastMs int64) int64 {
	if failures < p.FreeAttempts || p.BaseLockMs <= 0 {
		return 0
	}
	lock := p.BaseLockMs
	for i := p.FreeAttempts; i < failures && lock < p.MaxLockMs; i++ {
		lock *= 2
	}
	return lastMs + min(lock, p.MaxLockMs)
}
