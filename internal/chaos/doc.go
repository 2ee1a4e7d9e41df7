// Package chaos is the standing suite that tries to break Fengqiao's promises on one machine:
// a county hub and a city hub of three member processes each and twenty or more station
// processes of the plain binary, on loopback, while stations write random valid ops and a
// controller SIGKILLs and restarts processes, cuts, slows and heals links through
// internal/faultproxy and moves station clocks by hours to years. At the end it heals
// everything and checks, replica by replica, that nothing acknowledged was lost, duplicated
// or altered (RunWriter's journals are the ground truth of what was acknowledged).
//
// It owns the processes it starts and every proxy; all are stopped when Run returns.
package chaos
