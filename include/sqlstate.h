/*
 * sqlstate.h — every SQLSTATE sluice sends, by name. No literal codes
 * elsewhere in the code.
 */
#ifndef SLUICE_SQLSTATE_H
#define SLUICE_SQLSTATE_H

#define SQLSTATE_PROTOCOL_VIOLATION       "08P01"
#define SQLSTATE_CONNECTION_FAILURE       "08006"
#define SQLSTATE_CONNECTION_EXCEPTION     "08000"
#define SQLSTATE_CANNOT_CONNECT_NOW       "57P03"
#define SQLSTATE_ADMIN_SHUTDOWN           "57P01"
#define SQLSTATE_CRASH_SHUTDOWN           "57P02"
#define SQLSTATE_QUERY_CANCELED           "57014"
#define SQLSTATE_INVALID_PASSWORD         "28P01"
#define SQLSTATE_INVALID_AUTHORIZATION    "28000"
#define SQLSTATE_INVALID_CATALOG_NAME     "3D000"
#define SQLSTATE_TOO_MANY_CONNECTIONS     "53300"
#define SQLSTATE_FEATURE_NOT_SUPPORTED    "0A000"
#define SQLSTATE_WARNING                  "01000"
#define SQLSTATE_PROGRAM_LIMIT_EXCEEDED   "54000"
#define SQLSTATE_INTERNAL_ERROR           "XX000"
#define SQLSTATE_IDLE_IN_TRANSACTION_TIMEOUT "25P03"
#define SQLSTATE_IDLE_SESSION_TIMEOUT     "57P05"
#define SQLSTATE_OUT_OF_MEMORY            "53200"
/* Pooler-side failures (no server in time, login timeout): PgBouncer
 * reports these as protocol_violation, and tools match on it. */
#define SQLSTATE_POOLER_ERROR             "08P01"
#define SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE "55000"
#define SQLSTATE_SYNTAX_ERROR             "42601"
#define SQLSTATE_INSUFFICIENT_PRIVILEGE   "42501"
#define SQLSTATE_UNDEFINED_OBJECT         "42704"
#define SQLSTATE_INVALID_PARAMETER_VALUE  "22023"
/* Read from PostgreSQL: a name that is no text in its encoding. */
#define SQLSTATE_CHARACTER_NOT_IN_REPERTOIRE "22021"
#define SQLSTATE_UNTRANSLATABLE_CHARACTER "22P05"
#define SQLSTATE_LOCK_NOT_AVAILABLE       "55P03"   /* gate_hold_timeout, a failed drain */

#endif
