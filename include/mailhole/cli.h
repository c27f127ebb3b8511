/*
 * cli.h -- the commands. main() picks one by its word and returns what it
 * returns as the exit code (CONTRACT.md: 0, 1 findings at or above
 * --fail-on, 2 bad usage or input, 3 runtime failure). argv[0] is the
 * command word; positions in messages count from argv[1] = "argument 1".
 * Every input error is one line on stderr: "mailhole: <what> (<where>): <why>".
 */
#ifndef MAILHOLE_CLI_H
#define MAILHOLE_CLI_H

int mh_cmd_report(int argc, char **argv); /* scanner/cmd_report.c: merge and render */
int mh_cmd_diff(int argc, char **argv);   /* scanner/cmd_report.c: compare two documents */
int mh_cmd_local(int argc, char **argv);  /* scanner/cmd_local.c: this host, from inside */
int mh_cmd_probe(int argc, char **argv);  /* scanner/cmd_probe.c: tagged probes, verdicts */
int mh_cmd_queue(int argc, char **argv);  /* scanner/cmd_queue.c: a relay's queue listing */

#endif
