# stress/powerloss: the power-loss driver, a row of `make stress` like the
# drivers of stress/stress.mk (read after it: this file uses its STRESS_DIR,
# STRESS_IMPL_O), linked with the in-process recorder $(PL_OBJ) of
# faults/powerloss.mk and whatever implementation STRESS_IMPL names.
STRESS_DRIVERS += powerloss
ALL_TARGETS += $(BUILD)/stress/core/powerloss

$(BUILD)/stress/obj/powerloss.o: stress/powerloss.c $(STRESS_HDR) faults/powerloss.h
	@mkdir -p $(@D)
	$(CC) $(STRESS_CFLAGS) -DPL_EXPLORER='"$(abspath faults/powerloss)"' -c $< -o $@

stress-drivers: $(STRESS_DIR)/powerloss
$(STRESS_DIR)/powerloss: $(BUILD)/stress/obj/powerloss.o $(BUILD)/stress/obj/common.o $(PL_OBJ) $(STRESS_IMPL_O)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(FIU_LIBS) -lpthread -o $@

CHECK_STEPS += check-powerloss-driver
## check-powerloss-driver: the powerloss stress driver, --quick (a few seconds)
check-powerloss-driver: $(BUILD)/stress/core/powerloss
	@mkdir -p $(BUILD)/tap; f=$(BUILD)/tap/$@.tap; : > $$f; log=$<.check.log; \
	if $< --quick > $$log 2>&1; then echo "ok - stress-powerloss" >> $$f; \
	else echo "not ok - stress-powerloss (output in $$log)" >> $$f; \
	    grep -m 6 -A1 '^VIOLATION' $$log | sed 's/^/    /'; tail -n 2 $$log; fi
