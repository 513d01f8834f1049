/* scenario.h - the project's own scenarios use the public scenario API
 * (harness/include/asynctrace/scenario.h, installed as
 * <asynctrace/scenario.h>) under their historical short names. */
#ifndef SCN_SCENARIO_H
#define SCN_SCENARIO_H

#include "asynctrace/scenario.h"

#define scn_runtime at_scenario_runtime
#define scn_checkpoint_quiet at_scenario_checkpoint_quiet
#define scn_checkpoint_quiet1 at_scenario_checkpoint_quiet1
#define scn_checkpoint_done at_scenario_checkpoint_done
#define scn_done at_scenario_done
#define scn_offline_only at_scenario_offline_only
#define scn_checkpoint_hung at_scenario_checkpoint_hung
#define scn_hang_mark at_scenario_hang_mark
#define scn_allow_scheduled at_scenario_allow_scheduled
#define scn_set_live_hook at_scenario_set_live_hook
#define scn_skip at_scenario_skip
#define scn_fail at_scenario_fail
#define SCN_CHECK AT_SCENARIO_CHECK
#define scn_until_state at_scenario_until_state
#define scn_until at_scenario_until

#endif
