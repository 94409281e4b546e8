{
	"patcher": {
		"fileversion": 1,
		"appversion": {
			"major": 8,
			"minor": 5,
			"revision": 6,
			"architecture": "x64",
			"modernui": 1
		},
		"classnamespace": "box",
		"rect": [
			100.0,
			100.0,
			900.0,
			640.0
		],
		"openinpresentation": 1,
		"default_fontsize": 10.0,
		"default_fontface": 0,
		"default_fontname": "Arial Bold",
		"gridonopen": 1,
		"gridsize": [
			8.0,
			8.0
		],
		"devicewidth": 380.0,
		"description": "Flags a take the moment recording stops: sends it to `loopbridge serve` and marks the clip.",
		"tags": "loopbridge",
		"boxes": [
			{
				"box": {
					"id": "obj-plugin",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 2,
					"patching_rect": [
						20,
						20,
						60,
						22
					],
					"outlettype": [
						"signal",
						"signal"
					],
					"text": "plugin~"
				}
			},
			{
				"box": {
					"id": "obj-plugout",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 2,
					"patching_rect": [
						20,
						60,
						60,
						22
					],
					"outlettype": [
						"signal",
						"signal"
					],
					"text": "plugout~"
				}
			},
			{
				"box": {
					"id": "obj-thisdevice",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 3,
					"patching_rect": [
						120,
						20,
						90,
						22
					],
					"outlettype": [
						"bang",
						"int",
						"int"
					],
					"text": "live.thisdevice"
				}
			},
			{
				"box": {
					"id": "obj-init",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"patching_rect": [
						120,
						60,
						40,
						22
					],
					"outlettype": [
						""
					],
					"text": "init"
				}
			},
			{
				"box": {
					"id": "obj-js",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 8,
					"patching_rect": [
						120,
						260,
						420,
						22
					],
					"outlettype": [
						"",
						"",
						"",
						"",
						"",
						"",
						"",
						""
					],
					"text": "js loopbridge.js",
					"saved_object_attributes": {
						"filename": "loopbridge.js",
						"parameter_enable": 0
					}
				}
			},
			{
				"box": {
					"id": "obj-udpreceive",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"patching_rect": [
						560,
						200,
						100,
						22
					],
					"outlettype": [
						""
					],
					"text": "udpreceive 9001"
				}
			},
			{
				"box": {
					"id": "obj-udpsend",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						120,
						320,
						140,
						22
					],
					"text": "udpsend 127.0.0.1 9000"
				}
			},
			{
				"box": {
					"id": "obj-outport",
					"maxclass": "live.numbox",
					"numinlets": 1,
					"numoutlets": 2,
					"patching_rect": [
						280,
						320,
						60,
						15
					],
					"outlettype": [
						"",
						"float"
					],
					"presentation": 1,
					"presentation_rect": [
						246.0,
						150.0,
						60.0,
						15.0
					],
					"parameter_enable": 1,
					"varname": "Server Port",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Server Port",
							"parameter_shortname": "To server",
							"parameter_type": 0,
							"parameter_invisible": 1,
							"parameter_mmin": 1024.0,
							"parameter_mmax": 65535.0,
							"parameter_initial_enable": 1,
							"parameter_initial": [
								9000
							],
							"parameter_unitstyle": 0
						}
					},
					"annotation_name": "Server port",
					"annotation": "The port `loopbridge serve` listens on (default 9000; LiveOSC also uses 9000: then run `loopbridge serve --port N` and set N here)."
				}
			},
			{
				"box": {
					"id": "obj-outport-int",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"patching_rect": [
						280,
						345,
						30,
						22
					],
					"outlettype": [
						"int"
					],
					"text": "i"
				}
			},
			{
				"box": {
					"id": "obj-outport-prepend",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"patching_rect": [
						280,
						370,
						80,
						22
					],
					"outlettype": [
						""
					],
					"text": "prepend port"
				}
			},
			{
				"box": {
					"id": "obj-inport",
					"maxclass": "live.numbox",
					"numinlets": 1,
					"numoutlets": 2,
					"patching_rect": [
						560,
						100,
						60,
						15
					],
					"outlettype": [
						"",
						"float"
					],
					"presentation": 1,
					"presentation_rect": [
						312.0,
						150.0,
						64.0,
						15.0
					],
					"parameter_enable": 1,
					"varname": "Reply Port",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Reply Port",
							"parameter_shortname": "From server",
							"parameter_type": 0,
							"parameter_invisible": 1,
							"parameter_mmin": 0.0,
							"parameter_mmax": 65535.0,
							"parameter_initial_enable": 1,
							"parameter_initial": [
								0
							],
							"parameter_unitstyle": 0,
							"parameter_info": "0 = auto: a port of its own for this device (shown when connected)"
						}
					},
					"annotation_name": "Reply port",
					"annotation": "Where the server answers this device. 0 = auto: a port of its own per device (9100-9899), shown when connected."
				}
			},
			{
				"box": {
					"id": "obj-inport-int",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"patching_rect": [
						560,
						125,
						30,
						22
					],
					"outlettype": [
						"int"
					],
					"text": "i"
				}
			},
			{
				"box": {
					"id": "obj-inport-prepend",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"patching_rect": [
						560,
						150,
						80,
						22
					],
					"outlettype": [
						""
					],
					"text": "prepend port"
				}
			},
			{
				"box": {
					"id": "obj-scoretrack",
					"maxclass": "live.text",
					"numinlets": 1,
					"numoutlets": 2,
					"patching_rect": [
						230,
						20,
						90,
						20
					],
					"outlettype": [
						"",
						""
					],
					"text": "Score track",
					"presentation": 1,
					"presentation_rect": [
						246.0,
						4.0,
						130.0,
						20.0
					],
					"parameter_enable": 0,
					"mode": 0,
					"texton": "Score track",
					"varname": "Score track",
					"annotation_name": "Score track",
					"annotation": "Scores every audio clip on this track (Session, Arrangement and take lanes) and marks the ones it flags. Press again to start over."
				}
			},
			{
				"box": {
					"id": "obj-scoretrack-sel",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 2,
					"patching_rect": [
						230,
						50,
						40,
						22
					],
					"outlettype": [
						"bang",
						""
					],
					"text": "sel 1"
				}
			},
			{
				"box": {
					"id": "obj-scoretrack-msg",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"patching_rect": [
						230,
						80,
						70,
						22
					],
					"outlettype": [
						""
					],
					"text": "scoretrack"
				}
			},
			{
				"box": {
					"id": "obj-sensitivity",
					"maxclass": "live.numbox",
					"numinlets": 1,
					"numoutlets": 2,
					"patching_rect": [
						340,
						20,
						60,
						15
					],
					"outlettype": [
						"",
						"float"
					],
					"presentation": 1,
					"presentation_rect": [
						318.0,
						54.0,
						58.0,
						15.0
					],
					"parameter_enable": 1,
					"varname": "Sensitivity",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Sensitivity",
							"parameter_shortname": "Sensitivity",
							"parameter_type": 0,
							"parameter_invisible": 1,
							"parameter_mmin": 0.5,
							"parameter_mmax": 0.999,
							"parameter_initial_enable": 1,
							"parameter_initial": [
								0.95
							],
							"parameter_unitstyle": 1
						}
					},
					"annotation_name": "Sensitivity",
					"annotation": "The share of your own library a take must be more unusual than to be flagged (0.95 = the strangest 5%). Higher = fewer flags; no retraining."
				}
			},
			{
				"box": {
					"id": "obj-sensitivity-prepend",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"patching_rect": [
						340,
						50,
						100,
						22
					],
					"outlettype": [
						""
					],
					"text": "prepend sensitivity"
				}
			},
			{
				"box": {
					"id": "obj-markok",
					"maxclass": "live.toggle",
					"numinlets": 1,
					"numoutlets": 1,
					"patching_rect": [
						460,
						20,
						15,
						15
					],
					"outlettype": [
						""
					],
					"presentation": 1,
					"presentation_rect": [
						246.0,
						76.0,
						15.0,
						15.0
					],
					"parameter_enable": 1,
					"varname": "Mark OK",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Mark OK",
							"parameter_shortname": "Mark OK",
							"parameter_type": 2,
							"parameter_invisible": 1,
							"parameter_enum": [
								"off",
								"on"
							],
							"parameter_initial_enable": 1,
							"parameter_initial": [
								0
							],
							"parameter_mmax": 1
						}
					},
					"annotation_name": "Mark OK",
					"annotation": "Also marks clips that pass, with a check mark and their score."
				}
			},
			{
				"box": {
					"id": "obj-markok-prepend",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"patching_rect": [
						460,
						50,
						80,
						22
					],
					"outlettype": [
						""
					],
					"text": "prepend markok"
				}
			},
			{
				"box": {
					"id": "obj-models",
					"maxclass": "umenu",
					"numinlets": 1,
					"numoutlets": 3,
					"patching_rect": [
						560,
						300,
						120,
						22
					],
					"outlettype": [
						"int",
						"",
						""
					],
					"presentation": 1,
					"presentation_rect": [
						282.0,
						28.0,
						94.0,
						20.0
					],
					"parameter_enable": 0,
					"items": [],
					"varname": "Model",
					"annotation_name": "Model",
					"annotation": "The model the server scores with (from `loopbridge serve --model`). Saved with the Live Set.",
					"saved_attribute_attributes": {
						"textcolor": {
							"expression": "themecolor.live_control_fg"
						},
						"bgfillcolor": {
							"expression": "themecolor.live_control_bg"
						}
					}
				}
			},
			{
				"box": {
					"id": "obj-models-prepend",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"patching_rect": [
						560,
						20,
						90,
						22
					],
					"outlettype": [
						""
					],
					"text": "prepend setmodel"
				}
			},
			{
				"box": {
					"id": "obj-savedmodel",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 3,
					"patching_rect": [
						680,
						20,
						170,
						22
					],
					"outlettype": [
						"",
						"",
						""
					],
					"text": "pattr lb_model @parameter_enable 1",
					"parameter_enable": 1,
					"varname": "lb_model",
					"saved_object_attributes": {
						"parameter_enable": 1,
						"parameter_mappable": 0
					},
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Model name",
							"parameter_shortname": "Model",
							"parameter_type": 3,
							"parameter_invisible": 1
						}
					}
				}
			},
			{
				"box": {
					"id": "obj-connection",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						140,
						420,
						260,
						18
					],
					"text": "connecting…",
					"presentation": 1,
					"presentation_rect": [
						4.0,
						2.0,
						236.0,
						28.0
					],
					"annotation_name": "Connection",
					"annotation": "Whether `loopbridge serve` answers, its version, and the reply port in use.",
					"saved_attribute_attributes": {
						"textcolor": {
							"expression": "themecolor.live_control_fg"
						}
					}
				}
			},
			{
				"box": {
					"id": "obj-result",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						140,
						445,
						344,
						29
					],
					"text": "no take scored yet",
					"presentation": 1,
					"presentation_rect": [
						4.0,
						30.0,
						236.0,
						40.0
					],
					"linecount": 2,
					"annotation_name": "Last result",
					"annotation": "The last take scored: its score against the threshold, and where it stands among the earlier takes of its part.",
					"saved_attribute_attributes": {
						"textcolor": {
							"expression": "themecolor.live_control_fg"
						}
					}
				}
			},
			{
				"box": {
					"id": "obj-reasons",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						140,
						480,
						344,
						66
					],
					"text": "",
					"presentation": 1,
					"presentation_rect": [
						4.0,
						70.0,
						236.0,
						56.0
					],
					"linecount": 5,
					"annotation_name": "Reasons",
					"annotation": "What the checks found in the last take, most severe first, with the time in the take.",
					"saved_attribute_attributes": {
						"textcolor": {
							"expression": "themecolor.live_control_fg"
						}
					}
				}
			},
			{
				"box": {
					"id": "obj-status",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						140,
						550,
						344,
						29
					],
					"text": "",
					"presentation": 1,
					"presentation_rect": [
						4.0,
						126.0,
						236.0,
						40.0
					],
					"linecount": 2,
					"annotation_name": "Status",
					"annotation": "What the device is doing: the track it watches, takes being scored, Score track progress, errors.",
					"saved_attribute_attributes": {
						"textcolor": {
							"expression": "themecolor.live_control_fg"
						}
					}
				}
			},
			{
				"box": {
					"id": "obj-model-label",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						560,
						330,
						40,
						18
					],
					"text": "Model",
					"presentation": 1,
					"presentation_rect": [
						246.0,
						28.0,
						36.0,
						18.0
					],
					"saved_attribute_attributes": {
						"textcolor": {
							"expression": "themecolor.live_control_fg"
						}
					}
				}
			},
			{
				"box": {
					"id": "obj-sensitivity-label",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						340,
						0,
						70,
						18
					],
					"text": "Sensitivity",
					"presentation": 1,
					"presentation_rect": [
						246.0,
						52.0,
						70.0,
						18.0
					],
					"saved_attribute_attributes": {
						"textcolor": {
							"expression": "themecolor.live_control_fg"
						}
					}
				}
			},
			{
				"box": {
					"id": "obj-markok-label",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						480,
						0,
						80,
						18
					],
					"text": "mark OK clips too",
					"presentation": 1,
					"presentation_rect": [
						262.0,
						74.0,
						114.0,
						18.0
					],
					"saved_attribute_attributes": {
						"textcolor": {
							"expression": "themecolor.live_control_fg"
						}
					}
				}
			},
			{
				"box": {
					"id": "obj-ports-label",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						280.0,
						395.0,
						80.0,
						18.0
					],
					"text": "server port",
					"presentation": 1,
					"presentation_rect": [
						246.0,
						132.0,
						64.0,
						18.0
					],
					"saved_attribute_attributes": {
						"textcolor": {
							"expression": "themecolor.live_control_fg"
						}
					}
				}
			},
			{
				"box": {
					"id": "obj-replyport-label",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						560.0,
						80.0,
						80.0,
						18.0
					],
					"text": "reply port",
					"presentation": 1,
					"presentation_rect": [
						312.0,
						132.0,
						64.0,
						18.0
					],
					"saved_attribute_attributes": {
						"textcolor": {
							"expression": "themecolor.live_control_fg"
						}
					}
				}
			},
			{
				"box": {
					"id": "obj-inport-js",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						650.0,
						150.0,
						100.0,
						22.0
					],
					"text": "prepend replyport"
				}
			},
			{
				"box": {
					"id": "obj-marks",
					"maxclass": "live.toggle",
					"numinlets": 1,
					"numoutlets": 1,
					"patching_rect": [
						600,
						20,
						15,
						15
					],
					"outlettype": [
						""
					],
					"presentation": 1,
					"presentation_rect": [
						246.0,
						95.0,
						15.0,
						15.0
					],
					"parameter_enable": 1,
					"varname": "Marks",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Marks",
							"parameter_shortname": "Marks",
							"parameter_type": 2,
							"parameter_invisible": 1,
							"parameter_enum": [
								"off",
								"on"
							],
							"parameter_initial_enable": 1,
							"parameter_initial": [
								1
							],
							"parameter_mmax": 1,
							"parameter_info": "write marks into clip names (one undo step per flagged take)"
						}
					},
					"annotation_name": "Marks",
					"annotation": "Writes the result into clip names: one undo step per flagged take. Off: results show only here."
				}
			},
			{
				"box": {
					"id": "obj-marks-prepend",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"patching_rect": [
						600,
						50,
						100,
						22
					],
					"outlettype": [
						""
					],
					"text": "prepend marks"
				}
			},
			{
				"box": {
					"id": "obj-marks-label",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						620,
						0,
						60,
						18
					],
					"text": "marks",
					"presentation": 1,
					"presentation_rect": [
						262.0,
						93.0,
						36.0,
						18.0
					],
					"saved_attribute_attributes": {
						"textcolor": {
							"expression": "themecolor.live_control_fg"
						}
					}
				}
			},
			{
				"box": {
					"id": "obj-markcolour",
					"maxclass": "live.toggle",
					"numinlets": 1,
					"numoutlets": 1,
					"patching_rect": [
						710,
						20,
						15,
						15
					],
					"outlettype": [
						""
					],
					"presentation": 1,
					"presentation_rect": [
						302.0,
						95.0,
						15.0,
						15.0
					],
					"parameter_enable": 1,
					"varname": "Colour",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Colour",
							"parameter_shortname": "Colour",
							"parameter_type": 2,
							"parameter_invisible": 1,
							"parameter_enum": [
								"off",
								"on"
							],
							"parameter_initial_enable": 1,
							"parameter_initial": [
								0
							],
							"parameter_mmax": 1,
							"parameter_info": "also colour flagged clips (a second undo step)"
						}
					},
					"annotation_name": "Colour",
					"annotation": "Also colours flagged clips red (a second undo step per take); restores the colour when a take passes."
				}
			},
			{
				"box": {
					"id": "obj-markcolour-prepend",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"patching_rect": [
						710,
						50,
						100,
						22
					],
					"outlettype": [
						""
					],
					"text": "prepend markcolour"
				}
			},
			{
				"box": {
					"id": "obj-markcolour-label",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						730,
						0,
						60,
						18
					],
					"text": "colour",
					"presentation": 1,
					"presentation_rect": [
						318.0,
						93.0,
						40.0,
						18.0
					],
					"saved_attribute_attributes": {
						"textcolor": {
							"expression": "themecolor.live_control_fg"
						}
					}
				}
			},
			{
				"box": {
					"id": "obj-asciimarks",
					"maxclass": "live.toggle",
					"numinlets": 1,
					"numoutlets": 1,
					"patching_rect": [
						820,
						20,
						15,
						15
					],
					"outlettype": [
						""
					],
					"presentation": 1,
					"presentation_rect": [
						246.0,
						114.0,
						15.0,
						15.0
					],
					"parameter_enable": 1,
					"varname": "ASCII marks",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "ASCII marks",
							"parameter_shortname": "ASCII ma",
							"parameter_type": 2,
							"parameter_invisible": 1,
							"parameter_enum": [
								"off",
								"on"
							],
							"parameter_initial_enable": 1,
							"parameter_initial": [
								0
							],
							"parameter_mmax": 1,
							"parameter_info": "! and | instead of the warning sign and middle dot"
						}
					},
					"annotation_name": "ASCII marks",
					"annotation": "Uses ! and | instead of the warning sign and the middle dot, for fonts without them."
				}
			},
			{
				"box": {
					"id": "obj-asciimarks-prepend",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"patching_rect": [
						820,
						50,
						100,
						22
					],
					"outlettype": [
						""
					],
					"text": "prepend asciimarks"
				}
			},
			{
				"box": {
					"id": "obj-asciimarks-label",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						840,
						0,
						60,
						18
					],
					"text": "ASCII marks",
					"presentation": 1,
					"presentation_rect": [
						262.0,
						112.0,
						114.0,
						18.0
					],
					"saved_attribute_attributes": {
						"textcolor": {
							"expression": "themecolor.live_control_fg"
						}
					}
				}
			}
		],
		"lines": [
			{
				"patchline": {
					"source": [
						"obj-plugin",
						0
					],
					"destination": [
						"obj-plugout",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-plugin",
						1
					],
					"destination": [
						"obj-plugout",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-thisdevice",
						0
					],
					"destination": [
						"obj-init",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-init",
						0
					],
					"destination": [
						"obj-js",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-udpreceive",
						0
					],
					"destination": [
						"obj-js",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-js",
						0
					],
					"destination": [
						"obj-udpsend",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-outport",
						0
					],
					"destination": [
						"obj-outport-int",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-outport-int",
						0
					],
					"destination": [
						"obj-outport-prepend",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-outport-prepend",
						0
					],
					"destination": [
						"obj-udpsend",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-inport",
						0
					],
					"destination": [
						"obj-inport-int",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-inport-int",
						0
					],
					"destination": [
						"obj-inport-prepend",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-inport-prepend",
						0
					],
					"destination": [
						"obj-udpreceive",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-scoretrack",
						0
					],
					"destination": [
						"obj-scoretrack-sel",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-scoretrack-sel",
						0
					],
					"destination": [
						"obj-scoretrack-msg",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-scoretrack-msg",
						0
					],
					"destination": [
						"obj-js",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-sensitivity",
						0
					],
					"destination": [
						"obj-sensitivity-prepend",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-sensitivity-prepend",
						0
					],
					"destination": [
						"obj-js",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-markok",
						0
					],
					"destination": [
						"obj-markok-prepend",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-markok-prepend",
						0
					],
					"destination": [
						"obj-js",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-js",
						5
					],
					"destination": [
						"obj-models",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-models",
						1
					],
					"destination": [
						"obj-models-prepend",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-models-prepend",
						0
					],
					"destination": [
						"obj-js",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-js",
						6
					],
					"destination": [
						"obj-savedmodel",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-savedmodel",
						0
					],
					"destination": [
						"obj-js",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-js",
						1
					],
					"destination": [
						"obj-connection",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-js",
						2
					],
					"destination": [
						"obj-result",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-js",
						3
					],
					"destination": [
						"obj-reasons",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-js",
						4
					],
					"destination": [
						"obj-status",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-inport-int",
						0
					],
					"destination": [
						"obj-inport-js",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-inport-js",
						0
					],
					"destination": [
						"obj-js",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-marks",
						0
					],
					"destination": [
						"obj-marks-prepend",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-marks-prepend",
						0
					],
					"destination": [
						"obj-js",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-markcolour",
						0
					],
					"destination": [
						"obj-markcolour-prepend",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-markcolour-prepend",
						0
					],
					"destination": [
						"obj-js",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-asciimarks",
						0
					],
					"destination": [
						"obj-asciimarks-prepend",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-asciimarks-prepend",
						0
					],
					"destination": [
						"obj-js",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-js",
						7
					],
					"destination": [
						"obj-udpreceive",
						0
					]
				}
			}
		],
		"parameters": {
			"obj-outport": [
				"Server Port",
				"To server",
				0
			],
			"obj-inport": [
				"Reply Port",
				"From server",
				0
			],
			"obj-sensitivity": [
				"Sensitivity",
				"Sensitivity",
				0
			],
			"obj-markok": [
				"Mark OK",
				"Mark OK",
				0
			],
			"obj-savedmodel": [
				"Model name",
				"Model",
				0
			],
			"inherited_shortname": 1
		},
		"dependency_cache": [
			{
				"name": "loopbridge.js",
				"bootpath": ".",
				"type": "TEXT",
				"implicit": 1
			}
		],
		"latency": 0,
		"is_mpe": 0,
		"external_latency": 0,
		"minimum_live_version": "11.0",
		"minimum_max_version": "8.1",
		"platform_compatibility": 0,
		"autosave": 0,
		"project": {
			"version": 1,
			"creationdate": 3590052493,
			"modificationdate": 3590052493,
			"viewrect": [
				0.0,
				0.0,
				300.0,
				500.0
			],
			"autoorganize": 1,
			"hideprojectwindow": 1,
			"showdependencies": 1,
			"autolocalize": 0,
			"contents": {
				"patchers": {},
				"code": {
					"loopbridge.js": {
						"kind": "javascript",
						"local": 1
					}
				}
			},
			"layout": {},
			"searchpath": {},
			"detailsvisible": 0,
			"amxdtype": 1633771873,
			"readonly": 0,
			"devpathtype": 0,
			"devpath": ".",
			"sortmode": 0,
			"viewmode": 0,
			"includepackages": 0
		},
		"saved_attribute_attributes": {
			"editing_bgcolor": {
				"expression": "themecolor.live_surface_bg"
			},
			"locked_bgcolor": {
				"expression": "themecolor.live_surface_bg"
			}
		}
	}
}
