// The controller library; see the files beside this one.
