# stress/files: the `files` driver's --quick run as a `make check` step, one
# TAP line per case.  The driver itself (stress/files.c) is built and put in
# `make stress` by faults/env.mk (ENV_DRIVERS), like diskfull, exhaust, crash.
CHECK_STEPS += check-files
.PHONY: check-files
## check-files: the files driver --quick: sparse files on a full disk, odd descriptors and paths, fork, ramfs (a TAP line per case)
check-files: $(ENV_DIR)/files
	@mkdir -p $(BUILD)/tap; log=$(ENV_DIR)/files.check.log; \
	    $(ENV_DIR)/files --quick > $$log 2>&1; rc=$$?; \
	    awk '$$1 == "SKIP:" { sub(":", "", $$2); why[$$2] = $$0 } \
	        $$1 == "case" { n = "files/" $$2 " (" $$3 ", " $$4 ")"; \
	            if ($$7 == "pass") print "ok - " n; \
	            else if ($$7 == "SKIP") print "ok - " n " # SKIP " why[$$2]; \
	            else print "not ok - " n ": " $$7 " (replay: $(ENV_DIR)/files --seed " \
	                seed " --case " $$2 ")" } \
	        $$1 == "seed" { seed = $$3 }' $$log > $(BUILD)/tap/$@.tap; \
	    case $$rc in 0|1|77) ;; *) echo "not ok - files driver (exit $$rc, output in $$log)" \
	        >> $(BUILD)/tap/$@.tap ;; esac; \
	    grep -q '^SUMMARY ' $$log || echo "not ok - files driver: no SUMMARY line (output in $$log)" \
	        >> $(BUILD)/tap/$@.tap; \
	    if [ $$rc != 0 ]; then grep -m 8 -A1 '^VIOLATION\|^CRASH' $$log | sed 's/^/    /'; \
	        tail -n 2 $$log | sed 's/^/    /'; fi
