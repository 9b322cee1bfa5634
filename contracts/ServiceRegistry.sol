// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title ServiceRegistry: where users find a BR2K service and ask for its recovery.
/// @notice Each service has a header (location, managers, state, version, epoch) and a body
/// (recovery information: deployer, deploy context, replica count, container registry, images).
/// Managers change everything; operators (the service's replicas) may only update the location,
/// and only with an epoch (the etcd revision of their leader claim) no lower than the stored one,
/// so a deposed leader can never overwrite a newer leader's location. The stored epoch is owned by
/// the account that wrote it: an equal epoch is accepted only from that account (another
/// operator's key cannot rewrite the leader's location at the leader's epoch), and an epoch more
/// than MAX_EPOCH_JUMP above the stored one is refused (one key cannot pin the epoch out of
/// every leader's reach in one transaction). Managers repair a pinned epoch or a hijacked
/// location with repairLocation, which may lower the epoch and emits LocationRepaired. Every
/// state-changing call is O(1) or bounded by a small constant (manager/operator/image caps);
/// refusals are custom errors.
contract ServiceRegistry {
    enum State {
        None, // never registered (never stored for a registered service)
        Active,
        Failed,
        Recovering,
        Retired
    }

    uint256 public constant MAX_MANAGERS = 16;
    uint256 public constant MAX_OPERATORS = 64;
    uint256 public constant MAX_IMAGES = 32;
    /// @notice The largest rise of the epoch one location update may make (2^48). Epochs are
    /// etcd revisions, which grow by one per etcd write; between two leader changes they grow by
    /// the writes of one leadership. 2^48 is 178 years of 50,000 writes/s (above what one etcd
    /// cluster sustains), so no real leader is refused, while a hostile or mistyped epoch cannot
    /// jump to 2^64-1 (from 0 that would take 65,535 mined transactions, and repairLocation
    /// undoes any of it).
    uint64 public constant MAX_EPOCH_JUMP = 2 ** 48;

    struct Header {
        address owner; // 20 bytes  } one slot
        State state; //    1 byte   }
        bool deregistered; // 1     }
        uint64 version; //  8 bytes }
        uint64 epoch; // fencing value of the last location update
        string location;
        address[] managers;
        address[] operators;
    }

    struct Body {
        address deployer; // 20 bytes } one slot
        uint32 replicas; //   4 bytes }
        string deployContext;
        string containerRegistry;
        string[] images;
    }

    /// @notice Everything about a service, as getService returns it.
    struct ServiceView {
        string location;
        address owner;
        State state;
        uint64 version;
        uint64 epoch;
        address[] managers;
        address[] operators;
        address deployer;
        string deployContext;
        uint32 replicas;
        string containerRegistry;
        string[] images;
    }

    mapping(bytes32 => Header) private headers;
    mapping(bytes32 => Body) private bodies;
    // 1-based positions in headers[id].managers / .operators (0 = absent): O(1) add and remove.
    mapping(bytes32 => mapping(address => uint256)) private managerPos;
    mapping(bytes32 => mapping(address => uint256)) private operatorPos;
    // The account that wrote the stored epoch (updateLocation or repairLocation); address(0)
    // before the first write. Kept outside Header so getService's layout is unchanged.
    mapping(bytes32 => address) private epochWriter;

    event Registered(bytes32 indexed serviceId, address indexed owner, string location);
    event NewLocation(bytes32 indexed serviceId, string location, uint64 epoch, uint64 version);
    event StateChanged(bytes32 indexed serviceId, State state, uint64 version);
    event RecoveryInfoUpdated(bytes32 indexed serviceId, uint64 version);
    event ManagerAdded(bytes32 indexed serviceId, address indexed manager);
    event ManagerRemoved(bytes32 indexed serviceId, address indexed manager);
    event OperatorAdded(bytes32 indexed serviceId, address indexed operator);
    event OperatorRemoved(bytes32 indexed serviceId, address indexed operator);
    event OwnershipTransferred(bytes32 indexed serviceId, address indexed previousOwner, address indexed newOwner);
    event Deregistered(bytes32 indexed serviceId);
    event Claim(bytes32 indexed serviceId, address indexed claimant, string failedLocation, string reason);
    /// @notice A manager replaced the location and epoch (NewLocation is emitted too).
    event LocationRepaired(
        bytes32 indexed serviceId, address indexed manager, string location, uint64 epoch, uint64 previousEpoch
    );

    error UnknownService(bytes32 serviceId);
    error ServiceDeregistered(bytes32 serviceId);
    error ServiceExists(bytes32 serviceId);
    error NotOwner(bytes32 serviceId, address caller);
    error NotManager(bytes32 serviceId, address caller);
    error NotOperator(bytes32 serviceId, address caller);
    error StaleEpoch(bytes32 serviceId, uint64 given, uint64 current);
    error InvalidState(uint8 state);
    error EmptyLocation();
    error ZeroAddress();
    error AlreadyManager(bytes32 serviceId, address account);
    error NoSuchManager(bytes32 serviceId, address account);
    error AlreadyOperator(bytes32 serviceId, address account);
    error NoSuchOperator(bytes32 serviceId, address account);
    error CannotRemoveOwner(bytes32 serviceId);
    error TooMany(bytes32 serviceId, uint256 limit);
    error EpochHeldByOther(bytes32 serviceId, uint64 epoch, address writer);
    error EpochJumpTooLarge(bytes32 serviceId, uint64 given, uint64 current, uint64 maxJump);

    modifier live(bytes32 id) {
        Header storage h = headers[id];
        if (h.owner == address(0)) revert UnknownService(id);
        if (h.deregistered) revert ServiceDeregistered(id);
        _;
    }

    modifier onlyOwner(bytes32 id) {
        if (headers[id].owner != msg.sender) revert NotOwner(id, msg.sender);
        _;
    }

    modifier onlyManagers(bytes32 id) {
        if (managerPos[id][msg.sender] == 0) revert NotManager(id, msg.sender);
        _;
    }

    /// @notice Registers a service; the caller becomes its owner and first manager.
    function register(
        bytes32 serviceId,
        string calldata location,
        string calldata deployContext,
        uint32 replicas,
        string calldata containerRegistry,
        string[] calldata images
    ) external {
        Header storage h = headers[serviceId];
        if (h.deregistered) revert ServiceDeregistered(serviceId);
        if (h.owner != address(0)) revert ServiceExists(serviceId);
        if (bytes(location).length == 0) revert EmptyLocation();
        if (images.length > MAX_IMAGES) revert TooMany(serviceId, MAX_IMAGES);
        h.owner = msg.sender;
        h.state = State.Active;
        h.version = 1;
        h.location = location;
        h.managers.push(msg.sender);
        managerPos[serviceId][msg.sender] = 1;
        Body storage b = bodies[serviceId];
        b.deployer = msg.sender;
        b.deployContext = deployContext;
        b.replicas = replicas;
        b.containerRegistry = containerRegistry;
        for (uint256 i = 0; i < images.length; ++i) b.images.push(images[i]);
        emit Registered(serviceId, msg.sender, location);
        emit ManagerAdded(serviceId, msg.sender);
        emit NewLocation(serviceId, location, 0, 1);
    }

    /// @notice Sets the location. Managers and operators only. `epoch` must not be lower than the
    /// stored epoch (StaleEpoch); an equal epoch is accepted only from the account that wrote the
    /// stored one (the same leader may re-announce itself; EpochHeldByOther otherwise, except
    /// before any epoch was written); and it may exceed the stored epoch by at most
    /// MAX_EPOCH_JUMP (EpochJumpTooLarge).
    function updateLocation(bytes32 serviceId, string calldata location, uint64 epoch) external live(serviceId) {
        if (managerPos[serviceId][msg.sender] == 0 && operatorPos[serviceId][msg.sender] == 0) {
            revert NotOperator(serviceId, msg.sender);
        }
        if (bytes(location).length == 0) revert EmptyLocation();
        Header storage h = headers[serviceId];
        uint64 current = h.epoch;
        if (epoch < current) revert StaleEpoch(serviceId, epoch, current);
        if (epoch == current) {
            address writer = epochWriter[serviceId];
            if (writer != msg.sender && writer != address(0)) revert EpochHeldByOther(serviceId, epoch, writer);
        } else if (epoch - current > MAX_EPOCH_JUMP) {
            revert EpochJumpTooLarge(serviceId, epoch, current, MAX_EPOCH_JUMP);
        }
        h.epoch = epoch;
        h.location = location;
        epochWriter[serviceId] = msg.sender;
        uint64 v = ++h.version;
        emit NewLocation(serviceId, location, epoch, v);
    }

    /// @notice Managers only: replaces the location and epoch, lower than the stored epoch if need
    /// be (a pinned epoch, a hijacked location, a service moved to a fresh etcd cluster). The
    /// epoch may exceed the stored one by at most MAX_EPOCH_JUMP. The caller becomes the epoch's
    /// writer. A running leader with a higher epoch publishes its own location over it; to hand
    /// the location back to it, repair with an epoch below the leader's (0 is always safe).
    function repairLocation(bytes32 serviceId, string calldata location, uint64 epoch)
        external
        live(serviceId)
        onlyManagers(serviceId)
    {
        if (bytes(location).length == 0) revert EmptyLocation();
        Header storage h = headers[serviceId];
        uint64 previous = h.epoch;
        if (epoch > previous && epoch - previous > MAX_EPOCH_JUMP) {
            revert EpochJumpTooLarge(serviceId, epoch, previous, MAX_EPOCH_JUMP);
        }
        h.epoch = epoch;
        h.location = location;
        epochWriter[serviceId] = msg.sender;
        uint64 v = ++h.version;
        emit LocationRepaired(serviceId, msg.sender, location, epoch, previous);
        emit NewLocation(serviceId, location, epoch, v);
    }

    /// @notice The account that wrote the stored epoch (address(0) before the first location
    /// update).
    function getEpochWriter(bytes32 serviceId) external view live(serviceId) returns (address) {
        return epochWriter[serviceId];
    }

    function updateState(bytes32 serviceId, State state) external live(serviceId) onlyManagers(serviceId) {
        if (state == State.None) revert InvalidState(uint8(state));
        Header storage h = headers[serviceId];
        h.state = state;
        uint64 v = ++h.version;
        emit StateChanged(serviceId, state, v);
    }

    function updateRecoveryInfo(
        bytes32 serviceId,
        string calldata deployContext,
        uint32 replicas,
        string calldata containerRegistry,
        string[] calldata images
    ) external live(serviceId) onlyManagers(serviceId) {
        if (images.length > MAX_IMAGES) revert TooMany(serviceId, MAX_IMAGES);
        Body storage b = bodies[serviceId];
        b.deployContext = deployContext;
        b.replicas = replicas;
        b.containerRegistry = containerRegistry;
        delete b.images; // bounded by MAX_IMAGES
        for (uint256 i = 0; i < images.length; ++i) b.images.push(images[i]);
        uint64 v = ++headers[serviceId].version;
        emit RecoveryInfoUpdated(serviceId, v);
    }

    function addManager(bytes32 serviceId, address account) external live(serviceId) onlyManagers(serviceId) {
        if (account == address(0)) revert ZeroAddress();
        if (managerPos[serviceId][account] != 0) revert AlreadyManager(serviceId, account);
        Header storage h = headers[serviceId];
        if (h.managers.length >= MAX_MANAGERS) revert TooMany(serviceId, MAX_MANAGERS);
        h.managers.push(account);
        managerPos[serviceId][account] = h.managers.length;
        ++h.version;
        emit ManagerAdded(serviceId, account);
    }

    function removeManager(bytes32 serviceId, address account) external live(serviceId) onlyManagers(serviceId) {
        Header storage h = headers[serviceId];
        if (account == h.owner) revert CannotRemoveOwner(serviceId);
        uint256 pos = managerPos[serviceId][account];
        if (pos == 0) revert NoSuchManager(serviceId, account);
        _swapRemove(h.managers, managerPos[serviceId], pos);
        delete managerPos[serviceId][account];
        ++h.version;
        emit ManagerRemoved(serviceId, account);
    }

    function addOperator(bytes32 serviceId, address account) external live(serviceId) onlyManagers(serviceId) {
        if (account == address(0)) revert ZeroAddress();
        if (operatorPos[serviceId][account] != 0) revert AlreadyOperator(serviceId, account);
        Header storage h = headers[serviceId];
        if (h.operators.length >= MAX_OPERATORS) revert TooMany(serviceId, MAX_OPERATORS);
        h.operators.push(account);
        operatorPos[serviceId][account] = h.operators.length;
        ++h.version;
        emit OperatorAdded(serviceId, account);
    }

    function removeOperator(bytes32 serviceId, address account) external live(serviceId) onlyManagers(serviceId) {
        uint256 pos = operatorPos[serviceId][account];
        if (pos == 0) revert NoSuchOperator(serviceId, account);
        Header storage h = headers[serviceId];
        _swapRemove(h.operators, operatorPos[serviceId], pos);
        delete operatorPos[serviceId][account];
        ++h.version;
        emit OperatorRemoved(serviceId, account);
    }

    /// @notice Hands the service to `newOwner`, who becomes a manager if not one already. The
    /// previous owner stays a manager (remove it explicitly if wanted).
    function transferOwnership(bytes32 serviceId, address newOwner) external live(serviceId) onlyOwner(serviceId) {
        if (newOwner == address(0)) revert ZeroAddress();
        Header storage h = headers[serviceId];
        if (managerPos[serviceId][newOwner] == 0) {
            if (h.managers.length >= MAX_MANAGERS) revert TooMany(serviceId, MAX_MANAGERS);
            h.managers.push(newOwner);
            managerPos[serviceId][newOwner] = h.managers.length;
            emit ManagerAdded(serviceId, newOwner);
        }
        address previous = h.owner;
        h.owner = newOwner;
        ++h.version;
        emit OwnershipTransferred(serviceId, previous, newOwner);
    }

    /// @notice Retires the service for good: its id can never be registered again, and every
    /// later change or claim is refused with ServiceDeregistered.
    function deregister(bytes32 serviceId) external live(serviceId) onlyOwner(serviceId) {
        Header storage h = headers[serviceId];
        h.deregistered = true;
        h.state = State.Retired;
        ++h.version;
        emit Deregistered(serviceId);
    }

    /// @notice Anyone may report that a service is failing at `failedLocation`.
    function sendClaim(bytes32 serviceId, string calldata failedLocation, string calldata reason)
        external
        live(serviceId)
    {
        emit Claim(serviceId, msg.sender, failedLocation, reason);
    }

    function getServiceLocation(bytes32 serviceId)
        external
        view
        live(serviceId)
        returns (string memory location, uint64 epoch, State state)
    {
        Header storage h = headers[serviceId];
        return (h.location, h.epoch, h.state);
    }

    /// @notice The whole record. Works for deregistered services too (state Retired).
    function getService(bytes32 serviceId) external view returns (ServiceView memory s) {
        Header storage h = headers[serviceId];
        if (h.owner == address(0)) revert UnknownService(serviceId);
        Body storage b = bodies[serviceId];
        s.location = h.location;
        s.owner = h.owner;
        s.state = h.state;
        s.version = h.version;
        s.epoch = h.epoch;
        s.managers = h.managers;
        s.operators = h.operators;
        s.deployer = b.deployer;
        s.deployContext = b.deployContext;
        s.replicas = b.replicas;
        s.containerRegistry = b.containerRegistry;
        s.images = b.images;
    }

    function isManager(bytes32 serviceId, address account) external view returns (bool) {
        return managerPos[serviceId][account] != 0;
    }

    function isOperator(bytes32 serviceId, address account) external view returns (bool) {
        return operatorPos[serviceId][account] != 0;
    }

    function _swapRemove(address[] storage list, mapping(address => uint256) storage pos, uint256 p) private {
        uint256 last = list.length;
        if (p != last) {
            address moved = list[last - 1];
            list[p - 1] = moved;
            pos[moved] = p;
        }
        list.pop();
    }
}
