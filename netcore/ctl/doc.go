// Package ctl is the machinery of smolfs's command languages: the lines
// written to a host's ctl and arp files, to the root ctl file and the
// -host flag, and to a conversation's ctl file. It splits a write into
// lines (Lines), finds the command a line names in a language's table
// (Syntax, Find), parses the values the languages share (hardware
// addresses, IPv4 addresses and prefixes, IP!PORT, on/off, numbers), and
// reports what is wrong as a *CommandError that carries the errno class a
// file server returns for it.
//
// What a command does is not here: the host's table (package netcore,
// commands.go) says that for the ctl and arp files, package stack for the
// root ctl file. This package depends on nothing but package wire.
package ctl
